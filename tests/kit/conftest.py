"""The kit's sample projects are separate pytest projects with their own configuration:
``test_kit_*.py`` runs each in a subprocess, so this suite must not collect them."""

collect_ignore = ["pytest_asyncio_project", "anyio_project"]
