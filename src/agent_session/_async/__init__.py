"""The async stores (canonical source of the generated ``_sync`` package)."""
