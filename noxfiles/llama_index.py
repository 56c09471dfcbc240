"""nox session of the LlamaIndex integration (``agent_session.integrations.llama_index``).

Its own session because llama-index-core is large (~250 MB with numpy, nltk...): the
test sessions of every Python skip the module, this one installs it and runs it.
"""

from __future__ import annotations

import nox

#: The llama-index-core release the integration is tested with.
LLAMA_INDEX_CORE = "0.14.25"


@nox.session
def llama_index(session: nox.Session) -> None:
    """The chat store and Memory store against llama-index-core's own types and stores."""
    session.install(".[all,test]", f"llama-index-core=={LLAMA_INDEX_CORE}")
    session.run("pytest", "tests/integrations/test_llama_index.py", *session.posargs)
