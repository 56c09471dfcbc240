# This file is generated from _async/testing.py by scripts/unasync.py: do not edit.
"""The store contract, as a pytest test class any store can inherit.

Subclass it in a test module and say how to build your store::

    class TestMyStore(StoreContract):
        async def make_store(self, **options):
            return MyStore(**options)

``options`` always holds ``clock`` (a :class:`FakeClock`); some tests add
``default_ttl``, ``sliding``, ``max_messages``, ``max_message_bytes`` or
``max_session_bytes``. Every store is cleared before a test uses it, so stores
that share a database between tests start empty. No test waits for time to pass: it moves
only when a test advances the clock.
"""

from __future__ import annotations

from .contract._support import FRAMEWORK_PAYLOADS, sample_conversation
from .contract.concurrency import ConcurrencyContract
from .contract.expiry import ExpiryContract
from .contract.limits import LimitsContract
from .contract.listing import ListingContract
from .contract.payloads import PayloadsContract
from .contract.reads import ReadsContract
from .contract.rewrite import RewriteContract
from .contract.validation import ValidationContract
from .contract.writes import WritesContract

__all__ = ["FRAMEWORK_PAYLOADS", "StoreContract", "sample_conversation"]


# pytest runs the tests of the last base first (reverse MRO): writes first, concurrency last.
class StoreContract(
    ConcurrencyContract,
    ValidationContract,
    LimitsContract,
    ListingContract,
    ExpiryContract,
    PayloadsContract,
    RewriteContract,
    ReadsContract,
    WritesContract,
):
    """What every store promises (SPEC sections 2 to 5, docs/behaviour.md), as tests.

    One mixin a topic (``contract/``), each on :class:`~.contract._support.ContractBase`,
    which holds :meth:`make_store`, :meth:`fresh_store` and the ``clock`` and ``store``
    fixtures.
    """
