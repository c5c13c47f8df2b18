"""The module-level W&B calls (`wandb.log`, `wandb.config`, `wandb.run`, `wandb.finish`, ...):
each acts on the active run, the most recently started live one (W&B's wandb.run)."""
from __future__ import annotations

from ..errors import UsageError
from .config import NoActiveRun
from .runs import active_run


def _run(what: str):
    """The active run, or W&B's "You must call wandb.init() before wandb.log()" as a UsageError."""
    run = active_run()
    if run is None:
        raise UsageError(f"mvc.{what}() needs a run, and none is active (none was started, or it finished)",
                         f"call run = mvc.init(...) first (then mvc.{what}() acts on it, as run.{what}() does)")
    return run


def current(name: str):
    """``mvc.run`` (None before init), ``mvc.config`` and ``mvc.summary`` (of the active run)."""
    run = active_run()
    if name == "run":
        return run
    return getattr(run, name) if run is not None else NoActiveRun(name)


def log(data: dict, step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
    _run("log").log(data, step=step, commit=commit, sync=sync)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run (nothing to do when none is active, as in W&B)."""
    run = active_run()
    if run is not None:
        run.finish(exit_code, quiet=quiet)


def log_artifact(artifact_or_path, name=None, type=None, aliases=None, tags=None):
    return _run("log_artifact").log_artifact(artifact_or_path, name, type, aliases, tags=tags)


def use_artifact(artifact_or_name, type=None, aliases=None, use_as=None):
    return _run("use_artifact").use_artifact(artifact_or_name, type=type)


def log_model(path, name=None, aliases=None):
    return _run("log_model").log_model(path, name, aliases)


def use_model(name):
    return _run("use_model").use_model(name)


def link_model(path, registered_model_name, name=None, aliases=None):
    return _run("link_model").link_model(path, registered_model_name, name, aliases)


def watch(models=None, criterion=None, log="gradients", log_freq=1000, idx=None, log_graph=False) -> None:
    """W&B records gradients; mvc does not (docs/cli.md)."""


def unwatch(models=None) -> None:
    """See watch()."""


def define_metric(name, step_metric=None, step_sync=None, hidden=None, summary=None, goal=None, overwrite=None):
    """W&B's chart rules; nothing to do locally."""


def save(glob_str=None, base_path=None, policy="live") -> bool:
    """W&B uploads files beside the run; log them as an artifact with mvc."""
    return False


def alert(title: str, text: str, level=None, wait_duration=None) -> None:
    run = active_run()
    if run is not None:
        run.alert(title, text, level, wait_duration)


def login(*args, **kwargs) -> bool:
    """Nothing to log in to: a store is a folder (W&B returns True when logged in)."""
    return True


def setup(settings=None) -> None:
    """W&B starts its service process here; mvc has none."""


def teardown(exit_code: int | None = None) -> None:
    finish(exit_code)


class Settings:
    """W&B's settings object: accepted (its values change nothing locally) and kept readable."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


NAMES = ("log", "finish", "log_artifact", "use_artifact", "log_model", "use_model", "link_model", "watch",
         "unwatch", "define_metric", "save", "alert", "login", "setup", "teardown", "Settings")
