"""W&B's mode="disabled": a run whose calls do nothing, so code written for logging runs in
tests and dry runs without a store (W&B: "makes the run's methods no-ops")."""
from __future__ import annotations

from ..errors import UsageError
from .config import Config, Summary


class DisabledRun:
    """Touches no store: config and summary live in memory; log, log_artifact, log_model and
    link_* do nothing and return None; use_* cannot deliver files and say so."""

    disabled = True
    resumed = False

    def __init__(self, project=None, entity=None, config=None, name=None, job_type=None, tags=None, notes=None,
                 group=None):
        self.project, self.entity, self.name = project, entity, name or "disabled"
        self.job_type, self.tags, self.notes, self.group = job_type, list(tags or []), notes or "", group
        self.id = "disabled"
        self.config = Config(config)
        self.summary = Summary()
        self.step = 0

    def log(self, data, step=None, commit=None, sync=None) -> None:
        self.summary.update(data)

    def _nothing(self, *args, **kwargs) -> None:
        return None

    log_artifact = log_model = link_model = link_artifact = watch = unwatch = define_metric = _nothing
    save = log_code = alert = mark_preempting = _nothing

    def use_artifact(self, *args, **kwargs):
        raise UsageError("this run is disabled (mode='disabled'): it reads no artifacts",
                         "drop mode='disabled' to use artifacts from the store")

    use_model = use_artifact

    def finish(self, exit_code=None, quiet=None) -> None:
        return None

    def __enter__(self) -> "DisabledRun":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __repr__(self) -> str:
        return "<Run disabled>"
