"""The `mvc` command line: a thin click layer over mvc.api.

Nothing is imported here, so that importing a helper such as mvc.cli.output
costs only that helper.  ``from mvc.cli import main`` gives main.main (it
imports only click; each command module in mvc/cli/commands/ is imported when
it runs, see main.LazyGroup)."""
__all__ = ["cli", "main"]


def __getattr__(name: str):
    if name in __all__:
        import importlib
        module = importlib.import_module(f"{__name__}.main")
        # As `from .main import cli, main` did: the package's `main` is the function.
        globals().update(cli=module.cli, main=module.main)
        return globals()[name]
    raise AttributeError(f"module 'mvc.cli' has no attribute {name!r}")
