"""mvc ui: a local, private web page of one store (projects, versions, alias history,
registry, lineage, diffs).

The web app is routes over `mvc.api` only (tests/test_layers.py keeps it so).  Its
dependencies (Starlette, uvicorn, Jinja2) are the optional extra `mvc-models[ui]`, so
`require()` is called before anything imports them and names the extra when one is missing.
"""
from __future__ import annotations

from ..errors import MvcError

UI_MODULES = ("starlette", "uvicorn", "jinja2")


def missing_modules() -> list[str]:
    """The UI's dependencies that cannot be imported here."""
    import importlib.util
    return [m for m in UI_MODULES if importlib.util.find_spec(m) is None]


def require() -> None:
    """Raise an MvcError that says what to install when a UI dependency is missing."""
    missing = missing_modules()
    if missing:
        raise MvcError(f"mvc ui needs {', '.join(missing)}, which this Python cannot import",
                       "install the UI's extra: pip install 'mvc-models[ui]'")
