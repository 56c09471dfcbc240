"""The store contract by topic, one mixin class a module; ``..testing`` composes them.

- ``_support``: what the topics share: :class:`ContractBase` (the store under test and
  its clock), the sample conversations and payloads, small helpers
- ``writes``: save, append, versions, labels, exists, delete
- ``reads``: load, ``last``, ``load_tail``, metadata, pop
- ``rewrite``: ``load_with_metadata`` and conditional ``save``/``pop`` (compaction)
- ``payloads``: every message field and framework payload comes back exactly
- ``expiry``: TTLs, sliding expiry, touch, purge
- ``listing``: list_sessions, iter_sessions, find_sessions and their paging
- ``limits``: max_messages, max_message_bytes, max_session_bytes
- ``validation``: bad ids and arguments, closed stores
- ``concurrency``: tasks racing on one session

Each mixin derives from :class:`ContractBase`, so a store's test class may inherit one
topic alone while it is being written.
"""
