"""The `mvc` command line: a thin click layer over mvc.api.

Only click is imported here at start-up; each command module in
mvc/cli/commands/ is imported when it runs (see main.LazyGroup)."""
from .main import cli, main

__all__ = ["cli", "main"]
