"""W&B's mode="disabled": a run whose calls do nothing, so code written for logging runs in
tests and dry runs without a store (W&B: "makes the run's methods no-ops").  It is a run of the
active set like any other (mvc.run, reinit=): finishing it ends it there, and calls on it after
that raise, as they do on a finished W&B run, instead of dropping what a later real run should
have stored."""
from __future__ import annotations

import time

from ..errors import UsageError
from .config import Config, Summary


class DisabledRun:
    """Touches no store: config and summary live in memory; log, log_artifact, log_model and
    link_* do nothing and return None; use_* cannot deliver files and say so."""

    disabled = True
    resumed = False
    url = None  # no run page and no run folder in a store
    sweep_id = None

    def __init__(self, project=None, entity=None, config=None, name=None, job_type=None, tags=None, notes=None,
                 group=None):
        self.project, self.entity, self.name = project, entity, name or "disabled"
        self.job_type, self.tags, self.notes, self.group = job_type, list(tags or []), notes or "", group
        self.id = "disabled"
        self.config = Config(config)
        self.summary = Summary()
        self.step = 0
        self.start_time = time.time()  # W&B's run.start_time: epoch seconds
        self._dir: str | None = None
        self._finished = False

    @property
    def path(self) -> str:
        """W&B's entity/project/id, as a live run gives it."""
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    @property
    def dir(self) -> str:
        """A private temporary folder, made on first use (W&B's disabled run has one too): code that
        writes files into run.dir keeps working; nothing reads them."""
        if self._dir is None:
            import tempfile
            self._dir = tempfile.mkdtemp(prefix="mvc-disabled-run-")
        return self._dir

    def get_url(self) -> None:
        """No run page (W&B: None when there is none)."""
        return None

    def _check_open(self, call: str) -> None:
        if self._finished:
            raise UsageError(f"this disabled run is finished: its {call}() records nothing",
                             "start a new run with mvc.init() (drop mode='disabled' to store what it logs)")

    def log(self, data, step=None, commit=None, sync=None) -> None:
        self._check_open("log")
        self.summary.update(data)

    def _nothing(self, *args, **kwargs) -> None:
        return None

    def _nothing_while_open(name: str):
        def call(self, *args, **kwargs) -> None:
            self._check_open(name)
            return None
        call.__name__ = name
        return call

    log_artifact = _nothing_while_open("log_artifact")
    log_model = _nothing_while_open("log_model")
    link_model = _nothing_while_open("link_model")
    link_artifact = _nothing_while_open("link_artifact")
    watch = unwatch = define_metric = save = log_code = alert = mark_preempting = _nothing
    del _nothing_while_open

    def use_artifact(self, *args, **kwargs):
        raise UsageError("this run is disabled (mode='disabled'): it reads no artifacts",
                         "drop mode='disabled' to use artifacts from the store")

    use_model = use_artifact

    def finish(self, exit_code=None, quiet=None, state=None, error=None) -> None:
        """End the run: it leaves the active set (mvc.run), as a finished W&B run does."""
        from .runs import _ACTIVE
        self._finished = True
        _ACTIVE.pop(self, None)

    def _atexit(self) -> None:
        self.finish()

    def __enter__(self) -> "DisabledRun":
        return self

    def __exit__(self, *exc) -> None:
        self.finish()

    def __repr__(self) -> str:
        return "<Run disabled>"
