"""Run: one execution of user code, and RunRecord: a run read back."""
from __future__ import annotations

import atexit
import json
import os
import platform
import signal
import sys
import threading


from ..canonical import clean_text
from ..errors import ConflictError, InvalidInputError, MvcError, NotFoundError, UsageError
from ..meta.artifacts import now
from ..names import as_list, check_alias, check_name, check_project, check_run_name, registered_model_target
from ..repo import Repository
from ..repo.layout import enclosing_git
from ..procs import hostname, pid_alive
from ..repo.repository import matches_include
from .artifact import Artifact, Link, default_root, iso
from .config import Config, Summary
from .names_gen import run_name

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"  # string.ascii_lowercase + string.digits


def _user() -> str:
    import getpass
    return getpass.getuser()


def default_name(run_id: str, path) -> str:
    """The name ``log_artifact`` gives a path without ``name=`` (W&B's run-<id>-<basename>)."""
    base = os.path.basename(os.path.normpath(str(path).split("://", 1)[-1])) or "root"
    return f"run-{run_id}-{base}"


def new_run_id() -> str:
    import secrets  # here, as getpass: a read of the store never needs them
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def code_state(start: str, dirty: bool = True) -> dict:
    """The enclosing git work tree's commit and (``dirty``) whether it is dirty."""
    repo = enclosing_git(start)  # not pygit2.discover_repository: see enclosing_git (None without pygit2)
    if repo is None:
        return {}
    import pygit2  # here, not at the top: outside a git work tree a run never needs it
    try:
        if repo.is_bare or repo.head_is_unborn:
            return {"git_root": repo.workdir} if repo.workdir else {}
        out = {"commit": str(repo.head.target), "git_root": repo.workdir}
        if dirty:
            out["dirty"] = work_tree_dirty(repo)
        return out
    except (pygit2.GitError, KeyError, OSError):
        return {}


def work_tree_dirty(repo) -> bool:
    """A tracked file differs from HEAD (libgit2 status: a stat per tracked file, ~65-100 ms
    on a 20,000-file work tree, so a run computes it on a thread: Run._dirty_check)."""
    import pygit2
    return any(not (flags & (pygit2.GIT_STATUS_IGNORED | pygit2.GIT_STATUS_WT_NEW))
               for flags in repo.status(untracked_files="no").values())


def _dirty_check(code: dict) -> threading.Thread | None:
    """Fill ``code['dirty']`` on a thread (joined before the finish record is written)."""
    if "commit" not in code:
        return None

    def work():
        import pygit2
        try:
            code["dirty"] = work_tree_dirty(pygit2.Repository(code["git_root"]))
        except (pygit2.GitError, KeyError, OSError):
            pass

    t = threading.Thread(target=work, name="mvc-dirty-check", daemon=True)
    t.start()
    return t


def derived_outputs(repo: Repository, project: str, run_id: str) -> list[dict]:
    """Outputs of a run read from the version records' ``logged_by`` (durable with each
    artifact commit), oldest first."""
    out = []
    for p, n, v, rec in repo.artifacts.logged_versions(project):
        for i, e in enumerate(rec.get("logged_by", [])):
            if e.get("run") == run_id:
                out.append({"project": p, "name": n, "version": v, "digest": rec.get("digest"),
                            "at": e.get("at"), "created": i == 0 and rec.get("created_by") == run_id})
    return sorted(out, key=lambda o: o.get("at") or 0)


def merge_outputs(stored: list[dict], derived: list[dict]) -> list[dict]:
    """``stored`` plus every derived output of a version ``stored`` does not name."""
    have = {(o["project"], o["name"], o["version"]) for o in stored}
    return stored + [o for o in derived if (o["project"], o["name"], o["version"]) not in have]


class RunRecord:
    """A run as stored: read-only view used by the Api and lineage."""

    def __init__(self, repo: Repository, record: dict):
        self._repo = repo
        self.record = record

    @classmethod
    def load(cls, repo: Repository, run_id: str) -> "RunRecord | None":
        project = repo.runs.find(run_id)
        if project is None:
            return None
        return cls(repo, repo.runs.read(project, run_id))

    id = property(lambda self: self.record["id"])
    name = property(lambda self: self.record.get("name"))
    project = property(lambda self: self.record.get("project"))
    entity = property(lambda self: self.record.get("entity"))
    config = property(lambda self: self.record.get("config", {}))
    summary = property(lambda self: self.record.get("summary", {}))
    job_type = property(lambda self: self.record.get("job_type"))
    tags = property(lambda self: self.record.get("tags", []))
    started_at = property(lambda self: iso(self.record.get("started_at")))
    ended_at = property(lambda self: iso(self.record.get("ended_at")))
    inputs = property(lambda self: self.record.get("inputs", []))
    display_name = property(lambda self: self.record.get("name"))
    group = property(lambda self: self.record.get("group"))
    notes = property(lambda self: self.record.get("notes", ""))
    created_at = property(lambda self: iso(self.record.get("started_at")))
    url = property(lambda self: self.record.get("dir"))
    start_time = property(lambda self: self.record.get("started_at"))  # epoch seconds, as the live run's
    sweep_id = sweep = None  # W&B's: mvc has no sweeps

    def get_url(self) -> None:
        """W&B's run page URL; a local run has none (None, as W&B offline)."""
        return None

    @property
    def path(self) -> list[str]:
        """W&B's [entity, project, id]."""
        return [self.entity, self.project, self.id]

    @property
    def outputs(self) -> list[dict]:
        """Versions the run logged: its outputs.json (written at finish); for a run that has
        not finished (live, or crashed), derived from the version records that name it."""
        if "_outputs" not in self.__dict__:
            stored = list(self.record.get("outputs", []))
            if self.record.get("outputs_final", True):
                self._outputs = stored
            else:
                self._outputs = merge_outputs(stored, derived_outputs(self._repo, self.project, self.id))
        return self._outputs

    @property
    def state(self) -> str:
        """finished | failed | killed | running | crashed (running, but its process is gone)."""
        st = self.record.get("state", "running")
        env = self.record.get("env", {})
        if st == "running" and env.get("host") == hostname() and env.get("pid") \
                and not pid_alive(env["pid"]):
            return "crashed"
        return st

    def history(self, samples: int | None = None, keys=None, x_axis: str = "_step", pandas: bool = False,
                stream: str = "default"):
        """The metric history, oldest row first: a list of dicts (W&B's ``pandas=True`` gives a
        DataFrame when pandas is installed, as W&B does).  ``keys``: only rows holding them, with
        those keys; ``samples``: at most that many rows, evenly spread."""
        rows = self.scan_history(keys) if keys else self._repo.runs.history(self.project, self.id)
        if samples is not None and 0 < samples < len(rows):
            rows = [rows[i * len(rows) // samples] for i in range(samples)]
        if pandas:
            try:
                import pandas as pd
            except ImportError:
                return rows
            return pd.DataFrame.from_records(rows)
        return rows

    def scan_history(self, keys=None, page_size: int = 1000, min_step=None, max_step=None) -> list[dict]:
        """W&B's row iterator over the metric history (here: the list), optionally only ``keys``
        (rows lacking them are skipped, as W&B does) and a step range."""
        rows = self._repo.runs.history(self.project, self.id)
        if min_step is not None or max_step is not None:
            lo, hi = min_step or 0, max_step if max_step is not None else float("inf")
            rows = [r for r in rows if lo <= r.get("_step", 0) < hi]
        if keys:
            keys = as_list(keys, "keys")
            rows = [{k: r[k] for k in ("_step", *keys) if k in r} for r in rows if all(k in r for k in keys)]
        return rows

    def used(self) -> list[Artifact]:
        return self._artifacts(self.inputs)

    def logged(self) -> list[Artifact]:
        return self._artifacts(self.outputs)

    def used_artifacts(self) -> list[Artifact]:
        """W&B's name of used()."""
        return self.used()

    def logged_artifacts(self) -> list[Artifact]:
        """W&B's name of logged()."""
        return self.logged()

    def _artifacts(self, items) -> list[Artifact]:
        out, seen = [], set()
        for it in items:
            key = (it["project"], it["name"], it["version"])
            if key in seen:
                continue
            seen.add(key)
            try:
                v, _ = self._repo.resolve(f"{key[0]}/{key[1]}:{key[2]}")
                out.append(Artifact(self._repo, v))
            except MvcError:
                continue
        return out

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} {self.name} {self.state}>"


class Run:
    """A live run.  Created by mvc.init(); finished by finish(), by leaving a
    ``with`` block, or at interpreter exit."""

    def __init__(self, repo: Repository, project: str, entity: str | None = None, config: dict | None = None,
                 name: str | None = None, job_type: str | None = None, tags: list[str] | None = None,
                 notes: str | None = None, quiet: bool | None = None, run_id: str | None = None,
                 group: str | None = None, resumed: dict | None = None):
        from ..repo.owners import check_write
        self._repo = repo
        self.project = check_project(project)
        old = resumed or {}
        self.entity = check_name(entity, "entity") if entity else old.get("entity")
        check_write(repo, self.project, self.entity)  # a project belongs to the entity that created it
        self.id = run_id or new_run_id()
        self.resumed = resumed is not None
        self.name = check_run_name(name) if name else old.get("name") or run_name(len(repo.runs.ids(project)) + 1)
        self.job_type = clean_text(job_type, "job_type") or old.get("job_type")
        self.group = clean_text(group, "group") or old.get("group")
        self.tags = [check_name(t, "tag") for t in as_list(tags, "tags")] if tags is not None else \
            list(old.get("tags", []))  # given tags replace a resumed run's, as in W&B
        self.notes = clean_text(notes, "notes") or old.get("notes") or ""
        self.config = Config(old.get("config"))
        self.config.update(_config_dict(config))
        self.summary = Summary(old.get("summary"))
        self.quiet = quiet if quiet is not None else os.environ.get("MVC_SILENT", "") not in ("", "0")
        self.dir = os.path.join(repo.path, "runs", self.id)
        try:
            os.makedirs(self.dir, exist_ok=True)
        except OSError as e:
            from ..fsutil import read_only_error, raise_if_full
            raise_if_full(e, self.dir)
            raise read_only_error(repo.path, "record a run", e) from None
        self._history_path = os.path.join(self.dir, "history.jsonl")
        self._step = _resume_history(repo, self.project, self.id, self._history_path) if resumed else 0
        self._pending: dict = {}  # log(commit=False) rows, written with the next committed log
        self._lock = threading.Lock()
        self._finished = False
        self._logged: list[tuple[Artifact, bool, int, int]] = []
        self.last_log = None  # the LogResult of the latest log_artifact
        self._outputs: list[dict] = list(old.get("outputs", []))  # committed once, at finish (docs/design.md)
        self._used: list[Artifact] = []
        self._linked: list[Link] = []  # links this run made: its summary names them
        self._started = old.get("started_at") or now()
        self._resumed_at = now() if resumed else None
        self._env = {"host": hostname(), "user": _user(), "pid": os.getpid(),
                     "python": platform.python_version(), "platform": platform.platform(),
                     "argv": [_as_text(a) for a in sys.argv], "cwd": _as_text(os.getcwd()),
                     "code": code_state(os.getcwd(), dirty=False)}
        self._dirty_thread = _dirty_check(self._env["code"])  # recorded at finish
        self._write("resume run" if resumed else "start run", state="running")
        _install_hooks(self)  # finished at interpreter exit by _finish_at_exit

    # ---- record ----------------------------------------------------------
    def _record(self, state: str, **extra) -> dict:
        from ..canonical import clean_json
        rec = {"id": self.id, "name": self.name, "project": self.project, "entity": self.entity,
               "job_type": self.job_type, "tags": list(self.tags), "notes": self.notes,
               "config": clean_json(self.config, "config"), "summary": clean_json(self.summary, "summary"),
               "env": dict(self._env, code=dict(self._env["code"])),  # a copy: the dirty check fills it
               "started_at": self._started, "state": state, "dir": self.dir}
        if self.group:
            rec["group"] = self.group
        if self.resumed:
            rec["resumed_at"] = self._resumed_at
        rec.update(extra)
        return rec

    def _write(self, message: str, state: str = "running", **extra) -> None:
        self._repo.runs.write(self.project, self.id, record=self._record(state, **extra), message=message)

    disabled = False  # W&B's run.disabled (mode="disabled" gives a DisabledRun)
    sweep_id = None  # W&B's: mvc has no sweeps

    @property
    def url(self) -> str:
        """The run's folder (W&B: its web page)."""
        return self.dir

    def get_url(self) -> None:
        """W&B's run page URL, None when there is none (W&B offline): a local run has no web page."""
        return None

    @property
    def start_time(self) -> float:
        """When the run started, in epoch seconds (W&B's run.start_time; a resumed run keeps its first start)."""
        return self._started

    # ---- metrics ---------------------------------------------------------
    @property
    def step(self) -> int:
        """The step the next log() writes (W&B's run.step)."""
        return self._step

    @property
    def path(self) -> str:
        """W&B's entity/project/id (the entity left out when the run has none)."""
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    def log(self, data: dict, step: int | None = None, commit: bool | None = None, sync: bool | None = None) -> None:
        """Append one row of metrics at the current step (or ``step``).  ``commit=False`` (W&B's)
        keeps the values for the next committed log of the same step; ``sync`` changes nothing."""
        self._check_open("log")  # W&B raises too: a row logged after finish would be written nowhere
        if not isinstance(data, dict):
            raise InvalidInputError("run.log takes a dict of metric names to values", "e.g. run.log({'loss': 0.1})")
        from ..canonical import clean_json
        data = clean_json(data, "logged data")
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
            raise InvalidInputError(f"step must be a non-negative integer, not {step!r}", "e.g. run.log(d, step=3)")
        with self._lock:
            if step is not None and step != self._step:
                self._write_row({})  # a new step commits what commit=False held for the old one
                self._step = step
            self._pending.update(data)
            self.summary.update(data)
            if commit is not False:
                self._write_row({})

    def _write_row(self, data: dict) -> None:
        """Write the pending row (if any) at the current step and advance the step (lock held)."""
        row = dict(self._pending, **data)
        if not row:
            return
        row.update(_step=self._step, _timestamp=now())
        with open(self._history_path, "a", encoding="utf-8") as f:  # run log: append-only, not a store object
            f.write(json.dumps(row, sort_keys=True) + "\n")
        self._pending = {}
        self._step += 1

    # ---- artifacts -------------------------------------------------------
    def log_artifact(self, path, name: str | None = None, type: str | None = None, aliases=None, metadata=None,
                     description: str | None = None, tags=None, progress=None, exclude=None) -> Artifact:
        """Log a file, folder or reference URI as a new version of ``name`` (W&B's
        ``log_artifact(artifact_or_path, name, type, aliases, tags)``), or log a draft made with
        ``mvc.Artifact(name, type)``: the draft becomes that version and is returned.
        ``exclude``: gitignore patterns a folder's log leaves out, besides its ``.mvcignore`` and
        the defaults; a version-control folder (``.git``) left out is a UserWarning."""
        self._check_open()
        aliases, tags = as_list(aliases, "aliases"), as_list(tags, "tags")
        # W&B code often passes aliases=["latest", ...]: a log moves latest to its version anyway,
        # so here it is not "set by hand" (set_alias and links still refuse it)
        aliases = [a for a in aliases if a != "latest"]
        if isinstance(path, Artifact):
            return self._log_artifact_object(path, aliases, tags, progress)
        type = type or "unspecified"
        _check_path_arg(path)
        if description is not None and not isinstance(description, str):
            raise InvalidInputError(f"description must be a string, not {description.__class__.__name__}",
                                    "pass description=\"...\" (text)")
        if name is None:
            name = default_name(self.id, path)
            try:
                check_name(name)
            except MvcError as e:
                raise InvalidInputError(f"the default name {name!r} breaks the name rules ({e.message})",
                                        "pass name= with 1-128 characters of A-Z a-z 0-9 _ - .") from None
        res = self._repo.log(path, name, type, self.project, self.entity, aliases, metadata, description, tags,
                             self.id, progress, exclude=exclude or ())
        from ..store.ignore import warn_notes
        warn_notes(res.notes)  # a .git left out: a UserWarning at the caller's line
        return self._logged_version(res, Artifact(self._repo, res.version))

    def _log_artifact_object(self, art: Artifact, aliases: list, tags: list, progress=None) -> Artifact:
        """Log a draft (its listed files) or a version again (its files, already stored) under its
        name in this run's project; the object becomes the version logged."""
        sources = art._sources()
        aliases = list(dict.fromkeys([*aliases, *(a for a in art.aliases if a != "latest")]))
        tags = list(dict.fromkeys([*tags, *art.tags]))
        res = self._repo.log(sources, art.name, art.type, self.project, self.entity, aliases,
                             art.metadata or None, art.description or None, tags or None, self.id, progress)
        art._bind(self._repo, res.version)
        return self._logged_version(res, art)

    def _logged_version(self, res, art: Artifact) -> Artifact:
        """Record what a log did as this run's output."""
        v = res.version
        self.last_log = res  # what this log did (LogResult.outcome): the CLI reports it
        with self._lock:
            self._outputs.append({"project": v.project, "name": v.name, "version": v.version,
                                  "digest": v.record.get("digest"), "created": res.created, "at": now()})
            self._logged.append((art, res.created, res.files, res.new_bytes))
        return art

    def log_model(self, path, name: str | None = None, aliases=None, metadata=None, description=None,
                  progress=None, exclude=None) -> Artifact:
        return self.log_artifact(path, name, "model", aliases, metadata, description, progress=progress,
                                 exclude=exclude)

    def use_artifact(self, name, type: str | None = None, aliases=None, use_as=None) -> Artifact:
        """Resolve ``name`` (an address, or an Artifact already resolved) once, record the
        resolved version as an input, return it.  W&B's ``aliases`` and ``use_as`` change nothing."""
        self._check_open()
        if isinstance(name, Artifact) and name.is_draft():
            raise UsageError(f"artifact {name.name!r} is a draft; a run can use only a logged version",
                             "log it first (run.log_artifact(artifact)), then use it")
        v, link = self._resolve(name)
        if type is not None and v.record.get("type") != type:
            raise InvalidInputError(f"{v.project}/{v.name}:{v.version} has type {v.record.get('type')!r}, not {type!r}",
                                    f"pass type={v.record.get('type')!r}, or leave type out to accept any type")
        return self._record_use(v, link)

    def _resolve(self, name):
        """(version, link) of an address, or of an Artifact (not resolved again: an alias may move)."""
        if isinstance(name, Artifact):
            return name._info, name.via_link
        return self._repo.resolve(name, self.project)

    def _record_use(self, v, link) -> Artifact:
        self._repo.runs.write(self.project, self.id, add_input={
            "project": v.project, "name": v.name, "version": v.version, "digest": v.record.get("digest"),
            "via": f"registry/{link.model}:{link.link}" if link else None}, message=f"input {v.name}:{v.version}")
        art = Artifact(self._repo, v, link)
        self._used.append(art)
        return art

    def use_model(self, name, root: str | None = None, include=None, verify: bool = True,
                  progress=None, link: str | None = None) -> str:
        """Materialise a model version (an address, or an Artifact already resolved) and return
        its path (the file if it holds one)."""
        self._check_open()
        include = as_list(include, "include") or None
        v, link_info = self._resolve(name)  # resolved once: an alias may move meanwhile
        type_ = v.record.get("type") or ""
        if "model" not in type_:
            raise InvalidInputError(f"{v.project}/{v.name}:{v.version} has type {type_!r}, not a model type",
                                    "call run.use_artifact(...) (and .download()), the general form")
        art = Artifact(self._repo, v, link_info)
        folder = art.download(default_root(art.name, art.version, root), include, verify, progress, link=link)
        self._record_use(v, link_info)  # only a use that delivered verified files is an input
        files = [f for f in art.files() if not include or matches_include(f.path, include)]
        if len(files) == 1:
            return os.path.join(folder, *files[0].path.split("/"))
        return folder

    def link_model(self, path, registered_model_name: str, name: str | None = None, aliases=None) -> Link:
        from ..names import check_registered_model_name
        check_registered_model_name(registered_model_name)  # a bare name, as W&B's link_model takes
        aliases = [check_alias(a) for a in as_list(aliases, "aliases")]  # refuse before anything is logged
        from . import linking  # a protected registry alias: refused before the log (mvc/api/linking.py)
        linking.check_link_aliases(self._repo, registered_model_name, aliases, self.project,
                                   name or default_name(self.id, path))
        art = self.log_model(path, name)
        try:
            return self.link_artifact(art, registered_model_name, aliases)
        except MvcError as e:  # a hook's veto needs the version: the log stands, and the error says so
            raise linking.refused_after_log(e, path, art.address, registered_model_name) from None

    def link_artifact(self, artifact: Artifact, target_path: str, aliases=None) -> Link:
        """Link a version into a registered model (``NAME``, ``registry/NAME``, or W&B's
        ``wandb-registry-model/NAME``, ``[entity/]model-registry/NAME``); a draft is logged first."""
        self._check_open()
        aliases = [check_alias(a) for a in as_list(aliases, "aliases")]
        model = registered_model_target(target_path)
        if artifact.is_draft():
            self.log_artifact(artifact)
        li, _ = self._repo.link(artifact._info, model, aliases, self.id)
        link = Link(self._repo, li)
        self._linked.append(link)
        return link

    # ---- W&B calls with nothing to do locally (docs/cli.md, "Python API") ----
    def watch(self, models=None, criterion=None, log="gradients", log_freq: int = 1000, idx=None,
              log_graph: bool = False) -> None:
        """W&B hooks gradients into its charts; mvc records no gradients."""

    def unwatch(self, models=None) -> None:
        """See watch()."""

    def define_metric(self, name: str, step_metric=None, step_sync=None, hidden=None, summary=None,
                      goal=None, overwrite=None) -> None:
        """W&B's chart axes and summary rules; mvc's summary keeps each metric's last value."""

    def save(self, glob_str=None, base_path=None, policy: str = "live") -> bool:
        """W&B uploads files next to the run; with mvc, log them as an artifact (log_artifact)."""
        return False

    def log_code(self, root: str = ".", name=None, include_fn=None, exclude_fn=None) -> None:
        """mvc records the git commit and whether the work tree was dirty instead."""

    def alert(self, title: str, text: str, level=None, wait_duration=None) -> None:
        """W&B notifies by mail or Slack; mvc prints the alert on stderr."""
        if not self.quiet:
            print(f"mvc: alert: {title}: {text}", file=sys.stderr)

    def mark_preempting(self) -> None:
        """A resumable run is resumed with mvc.init(id=..., resume="allow")."""

    # ---- end -------------------------------------------------------------
    def _check_open(self, call: str | None = None) -> None:
        if self._finished:
            raise InvalidInputError(f"run {self.id} is finished" + (f": its {call}() records nothing" if call else ""),
                                    "start a new run with mvc.init()")

    def finish(self, exit_code: int | None = None, quiet: bool | None = None, state: str | None = None,
               error: str | None = None) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        try:
            self._write_finish(exit_code, quiet, state, error)
        finally:  # a finish that failed to write (a store gone, a full disk) still ends the run here:
            _ACTIVE.pop(self, None)  # mvc.run must not keep answering with a finished run

    def _write_finish(self, exit_code, quiet, state, error) -> None:
        state = state or ("finished" if not exit_code else "failed")
        try:
            with open(self._history_path, "rb") as f:
                history = f.read()
        except FileNotFoundError:
            history = None
        if self._dirty_thread is not None:
            self._dirty_thread.join(timeout=30)
        extra = {"ended_at": now(), "exit_code": exit_code or 0}
        if error:
            extra["error"] = error
        with self._lock:
            outputs = list(self._outputs)
        self._repo.runs.write(self.project, self.id, record=self._record(state, **extra), history=history,
                              outputs=outputs, message=f"finish run ({state})")
        self._repo.stat_cache.close()  # now, not whenever the collector reaches the run (a log pauses it)
        _ACTIVE.pop(self, None)  # before the summary is printed: a closed stderr must not keep it active
        if not (self.quiet if quiet is None else quiet):
            print(self.summary_text(state), file=sys.stderr)

    def summary_text(self, state: str = "finished") -> str:
        new = sum(b for _, c, _, b in self._logged)
        nfiles = sum(n for _, _, n, _ in self._logged)
        lines = [f"mvc: run {self.name} ({self.id}) in project {self.project}: {state}"]
        for art, created, _, _ in self._logged:
            lines.append(f"mvc:   logged {art.name}:{art.version}" + ("" if created else " (same content as before)"))
        for art in self._used:
            lines.append(f"mvc:   used   {art.name}:{art.version}")
        for link in self._linked:
            lines.append(f"mvc:   linked {link.address} -> {link.source}")
        lines.append(f"mvc:   {nfiles} file{'' if nfiles == 1 else 's'} stored, {_human(new)} new")
        lines.append(f"mvc:   run log: {self.dir}/")
        return "\n".join(lines)

    def _atexit(self) -> None:
        try:
            exc = _LAST_EXC.get(self)
            if exc:
                self.finish(1, state="killed" if exc == "KeyboardInterrupt" else "failed", error=exc)
            else:
                self.finish(0)
        except Exception:  # noqa: BLE001 - never raise out of interpreter exit
            pass

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish(0)
        else:
            self.finish(1, state="killed" if exc_type is KeyboardInterrupt else "failed", error=exc_type.__name__)

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} {self.name}>"


def _config_dict(config) -> dict:
    """A dict, a Mapping or an argparse.Namespace (as W&B accepts); JSON-checked up front so a
    bad config refuses the run before anything is written."""
    import argparse
    from collections.abc import Mapping
    from ..canonical import clean_json
    if config is None:
        return {}
    if isinstance(config, argparse.Namespace):
        config = vars(config)
    if not isinstance(config, Mapping):
        raise InvalidInputError(f"config must be a dict, not {type(config).__name__}",
                                "pass e.g. config={'lr': 0.001}")
    clean_json(dict(config), "config")
    return dict(config)


def _as_text(s: str) -> str:
    """``s`` as UTF-8 can store it: bytes of argv or a path that are not UTF-8 reach Python as lone
    surrogates (surrogateescape), which become the text ``\\udce9`` instead of failing the run record."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_path_arg(path) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidInputError(f"path must be a file, folder or reference URI string, not {type(path).__name__}",
                                "pass e.g. 'model.safetensors', a folder, or 'file:///data/model.bin'")


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


_ACTIVE: dict = {}  # live runs, oldest first (a dict keeps their order); finish() removes its run
_LAST_EXC: dict = {}
_HOOKED = False


def _finish_at_exit() -> None:
    """Finish the runs still live at interpreter exit, newest first.  Registered once per
    process: a handler per run, unregistered at finish, still cost each run a slot that
    CPython 3.11's atexit never frees (1,000 runs left atexit._ncallbacks() at 1,000)."""
    for r in reversed(list(_ACTIVE)):
        r._atexit()


def _install_hooks(run: Run) -> None:
    """Finish live runs at exit; mark them failed on an uncaught exception, killed on SIGTERM."""
    global _HOOKED
    _ACTIVE[run] = None
    if _HOOKED:
        return
    _HOOKED = True
    atexit.register(_finish_at_exit)
    prev_hook = sys.excepthook

    def hook(exc_type, exc, tb):
        for r in list(_ACTIVE):
            _LAST_EXC[r] = exc_type.__name__
        prev_hook(exc_type, exc, tb)

    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        def on_term(signum, frame):
            for r in list(_ACTIVE):
                try:
                    r.finish(143, state="killed", error="SIGTERM", quiet=True)
                except Exception:  # noqa: BLE001
                    pass
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_term)


def init(project: str | None = None, entity: str | None = None, config: dict | None = None, name: str | None = None,
         job_type: str | None = None, tags: list[str] | None = None, notes: str | None = None,
         dir: str | None = None, quiet: bool | None = None, *, id: str | None = None, group: str | None = None,
         resume: bool | str | None = None, reinit: bool | str | None = None, mode: str | None = None,
         settings=None, save_code: bool | None = None, config_exclude_keys=None, config_include_keys=None,
         allow_val_change: bool | None = None, force: bool | None = None, anonymous: str | None = None,
         resume_from: str | None = None, fork_from: str | None = None, tensorboard: bool | None = None,
         sync_tensorboard: bool | None = None, monitor_gym: bool | None = None, magic=None) -> Run:
    """Start a run (W&B's wandb.init).  W&B's options that mean nothing locally (mode other than
    "disabled", settings, save_code, allow_val_change, force, anonymous, tensorboard,
    sync_tensorboard, monitor_gym, magic) are accepted and change nothing (docs/cli.md)."""
    if resume_from is not None or fork_from is not None:
        raise UsageError("resume_from= and fork_from= (rewinding or forking a run's history) are not supported",
                         "resume the whole run with mvc.init(id=RUN_ID, resume='allow'), or start a new run")
    mode = _check_mode(mode)
    previous = _reinit(reinit)  # whatever the mode, as in W&B: a disabled run is a run of the active set
    if previous is not None:
        return previous
    if mode == "disabled":
        from .disabled import DisabledRun
        run = DisabledRun(project, entity, _config_dict(config), name, job_type, tags, notes, group)
        _ACTIVE[run] = None  # active until finished (no exit hooks: it has nothing to write)
        return run
    named = project or os.environ.get("MVC_PROJECT")
    if named:
        check_project(named)  # before the store is found or made: a refused name leaves no new store behind
    repo = Repository.find(dir)
    project = check_project(named or repo.default_project)
    config = _filter_config(_config_dict(config), config_include_keys, config_exclude_keys)
    run_id, resumed = _resume_target(repo, project, id, resume)
    return Run(repo, project, entity, config, name, job_type, tags, notes, quiet, run_id=run_id, group=group,
               resumed=resumed)


_MODES = (None, "online", "offline", "shared", "disabled", "run", "dryrun")


def _check_mode(mode):
    if mode not in _MODES:
        raise InvalidInputError(f"mode must be one of online, offline, shared, disabled, not {mode!r}",
                                "leave mode out: every mvc run is local")
    return mode


_REINIT = {None: "create_new", "default": "create_new", "create_new": "create_new", True: "finish_previous",
           "finish_previous": "finish_previous", False: "return_previous", "return_previous": "return_previous"}


def _reinit(reinit) -> Run | None:
    """W&B's reinit: "finish_previous" (True) finishes live runs first, "return_previous" (False)
    returns the live run, "create_new" (mvc's default) starts another run beside them."""
    try:
        how = _REINIT[reinit]
    except (KeyError, TypeError):
        raise InvalidInputError(f"reinit must be True, False, 'default', 'create_new', 'finish_previous' or "
                                f"'return_previous', not {reinit!r}", "leave reinit out") from None
    if how == "finish_previous":
        for r in reversed(list(_ACTIVE)):
            r.finish()
    elif how == "return_previous":
        return active_run()
    return None


def _filter_config(config: dict, include, exclude) -> dict:
    if include:
        config = {k: v for k, v in config.items() if k in set(as_list(include, "config_include_keys"))}
    if exclude:
        config = {k: v for k, v in config.items() if k not in set(as_list(exclude, "config_exclude_keys"))}
    return config


_RESUME = (None, False, True, "allow", "must", "never", "auto")


def _resume_target(repo: Repository, project: str, run_id: str | None, resume) -> tuple[str | None, dict | None]:
    """(id, stored record to continue or None) for W&B's id= and resume=."""
    if resume not in _RESUME:
        raise InvalidInputError(f"resume must be 'allow', 'must', 'never', 'auto', True or False, not {resume!r}",
                                "e.g. mvc.init(id='abc123', resume='allow')")
    if run_id is None:
        if resume == "must":
            raise UsageError("resume='must' needs the id of the run to resume", "pass id='RUN_ID'")
        return None, None
    check_name(run_id, "run id")
    where = repo.runs.find(run_id)
    if where is not None and where != project:
        raise ConflictError(f"run id {run_id!r} is taken by a run in project {where!r}",
                            f"resume it in its project (project={where!r}), or choose another id")
    record = repo.runs.read(project, run_id) if where else None
    if record is None:
        if resume == "must":
            raise NotFoundError(f"no run {run_id!r} in project {project!r} to resume",
                                "check the id (`mvc runs ls`), or pass resume='allow' to start it if absent")
        return run_id, None
    if resume in (None, False, "never"):
        raise ConflictError(f"run {run_id!r} already exists in project {project!r}",
                            "pass resume='allow' (or 'must') to continue it, or choose another id")
    rec = RunRecord(repo, record)
    _check_not_live(rec)
    return run_id, dict(record, outputs=rec.outputs)  # a crashed run's outputs derive from the versions


def _check_not_live(rec: RunRecord) -> None:
    if rec.state != "running":
        return
    env = rec.record.get("env", {})
    mine = env.get("host") == hostname() and env.get("pid") == os.getpid()
    if mine and any(r.id == rec.id for r in _ACTIVE):
        raise ConflictError(f"run {rec.id} is live in this process", "use the Run object mvc.init returned, "
                            "or finish it before resuming")
    if not mine and env.get("host") == hostname():
        raise ConflictError(f"run {rec.id} is live in process {env.get('pid')} on this host",
                            "wait for it to finish (or end it), then resume")


def _resume_history(repo: Repository, project: str, run_id: str, path: str) -> int:
    """Make the run's local history file hold its history (the store's copy if the file is gone,
    e.g. a run fetched from a remote) and return the step after its last row."""
    if not os.path.exists(path):
        rows = repo.runs.history(project, run_id)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    last = -1
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                last = max(last, int(json.loads(line).get("_step", -1)))
            except (ValueError, TypeError, AttributeError):
                continue  # a torn last line of a crashed run
    return last + 1


def active_run() -> Run | None:
    """The most recently started run that is not finished (W&B's wandb.run), or None; a
    mode="disabled" run counts until it is finished, like any other."""
    live = list(_ACTIVE)
    return live[-1] if live else None
