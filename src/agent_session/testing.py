"""The store contract suite, for anyone writing a store: prove it conforms.

In a test module (pytest, with anyio's plugin for the async flavour)::

    from agent_session.testing import AsyncStoreContract, StoreContract

    class TestMyAsyncStore(AsyncStoreContract):
        async def make_store(self, **options):
            return MyAsyncStore(**options)

    class TestMyStore(StoreContract):
        def make_store(self, **options):
            return MyStore(**options)

``options`` always holds ``clock`` (a :class:`FakeClock`); some tests add
``default_ttl``, ``sliding``, ``max_messages``, ``max_message_bytes`` or
``max_session_bytes``. Async tests run under every ``anyio_backend`` your
conftest selects (asyncio and trio, say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._fakeclock import FakeClock

if TYPE_CHECKING:
    from ._async.testing import AsyncStoreContract, sample_conversation
    from ._sync.testing import StoreContract

__all__ = ["AsyncStoreContract", "FakeClock", "StoreContract", "sample_conversation"]


def __getattr__(name: str) -> Any:
    # The contract classes need pytest; FakeClock alone (say, in an example) must not.
    if name in ("AsyncStoreContract", "sample_conversation"):
        from ._async import testing

        return getattr(testing, name)
    if name == "StoreContract":
        from ._sync.testing import StoreContract

        return StoreContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
