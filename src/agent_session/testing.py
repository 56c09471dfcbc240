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
``max_session_bytes``. Every test clears the store first, so stores sharing a
database start empty. Async tests run under every ``anyio_backend`` your
conftest selects (asyncio and trio, say). Build a store that needs a fixture
(a server URL, a temporary directory) in an ``autouse`` fixture of your class.

:class:`FakeClock` alone needs no pytest: use it wherever time must stand still.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ._fakeclock import FakeClock

if TYPE_CHECKING:
    from ._async.testing import AsyncStoreContract, sample_conversation
    from ._sync.testing import StoreContract

__all__ = ["AsyncStoreContract", "FakeClock", "StoreContract", "sample_conversation"]

# The modules whose asserts pytest must rewrite: the entry points and, with every module
# under them, the packages holding the tests.
_CONTRACTS = (
    "agent_session._async.testing",
    "agent_session._async.contract",
    "agent_session._sync.testing",
    "agent_session._sync.contract",
)


def _rewrite_asserts() -> None:
    # pytest rewrites asserts only in test modules; the contract lives in the library, so
    # ask for it before the first import, or a failure would show a bare AssertionError.
    # (Asking after the import would only draw a warning, which many suites turn into errors.)
    pending = [name for name in _CONTRACTS if name not in sys.modules]
    if pending and "pytest" in sys.modules:
        import pytest

        pytest.register_assert_rewrite(*pending)


def __getattr__(name: str) -> Any:
    # The contract classes need pytest; FakeClock alone (say, in an example) must not.
    if name in ("AsyncStoreContract", "sample_conversation"):
        _rewrite_asserts()
        from ._async import testing

        return getattr(testing, name)
    if name == "StoreContract":
        _rewrite_asserts()
        from ._sync.testing import StoreContract

        return StoreContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
