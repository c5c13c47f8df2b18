"""A run's state is the tree at the tip of refs/mvc/<project>/runs/<id>:

    run.json        id, name, project, entity, config, summary, environment, state, times
    inputs.json     [{"project","name","version","digest","at"}]  versions the run used
    outputs.json    [{"project","name","version","digest","at","created"}]  versions it logged,
                    written once at finish (until then outputs derive from the version
                    records' logged_by, which the artifact commits made durable)
    history.jsonl   the metric history (written at finish)
"""
from __future__ import annotations

from . import refs, upkeep
from .artifacts import now
from .gitdb import MetaRepo, NoChange, TreeEdit

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Any


class Runs:
    def __init__(self, meta: MetaRepo, crash_hook=None):
        self.meta = meta
        self.crash_hook = crash_hook

    def ids(self, project: str | None = None) -> list[tuple[str, str]]:
        out = []
        for r in self.meta.refnames():
            parsed = refs.parse(r)
            if parsed and parsed[0] == "run" and (project is None or parsed[1] == project):
                out.append((parsed[1], parsed[2]))
        return out

    def find(self, run_id: str) -> str | None:
        """The project of a run id, or None."""
        for project, rid in self.ids():
            if rid == run_id:
                return project
        return None

    def read(self, project: str, run_id: str) -> dict | None:
        tip = self.meta.tip(refs.run(project, run_id))
        if tip is None:
            return None
        t = tip.tree
        rec = dict(self.meta.json(t, "run.json", {}))
        rec["inputs"] = self.meta.json(t, "inputs.json", [])
        outputs = self.meta.json(t, "outputs.json")
        rec["outputs"] = outputs or []
        rec["outputs_final"] = outputs is not None
        return rec

    def history(self, project: str, run_id: str) -> list[dict]:
        tip = self.meta.tip(refs.run(project, run_id))
        data = self.meta.blob(tip.tree, "history.jsonl") if tip else None
        if not data:
            return []
        import json
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    def write(self, project: str, run_id: str, record: dict | None = None, add_input: dict | None = None,
              outputs: list[dict] | None = None, history: bytes | None = None, message: str = "update") -> None:
        """One commit on the run's ref: a new run.json, one more input, the whole output
        list (at finish), the metric history."""
        meta = self.meta

        def edit(tip):
            t = tip.tree if tip else None
            changes: dict[str, Any] = {}
            if record is not None:
                changes["run.json"] = meta.write_json(record)
            if add_input is not None:
                items = list(meta.json(t, "inputs.json", []))
                items.append(dict(add_input, at=now()))
                changes["inputs.json"] = meta.write_json(items)
            if outputs is not None:
                changes["outputs.json"] = meta.write_json(outputs)
            if history is not None:
                changes["history.jsonl"] = meta.write_blob(history)
            if not changes:
                raise NoChange()
            tree = meta.edit_tree(t, changes)
            return TreeEdit(tree, f"{message}\n\nMvc-Op: run\nMvc-Run: {run_id}\n")

        meta.update(refs.run(project, run_id), edit, self.crash_hook)
        upkeep.after_commit(meta)
