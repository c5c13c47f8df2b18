"""Lineage: runs and versions as a directed graph (run -> version it logged,
version -> run that used it), walked up- and downstream and rendered as text,
JSON, Graphviz DOT or Mermaid."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from ..meta.artifacts import VersionInfo
from ..repo import Repository


def _vkey(project: str, name: str, version: str) -> str:
    return f"artifact:{project}/{name}:{version}"


def consumers(repo: Repository, v: VersionInfo) -> list[str]:
    """Run ids whose inputs include ``v`` (derived by scanning runs; never stored alone)."""
    return _index(repo).used_by.get(_vkey(v.project, v.name, v.version), [])


def producers(repo: Repository, v: VersionInfo) -> list[str]:
    """Run ids that logged ``v``: its record's ``logged_by`` (durable with each artifact
    commit), then runs whose outputs name it (a no-op re-log is recorded only there)."""
    return _producers_of(v.record, _index(repo).made_by.get(_vkey(v.project, v.name, v.version), []))


def _producers_of(record: dict, from_runs: list[str]) -> list[str]:
    seen = []
    for rid in [e.get("run") for e in record.get("logged_by", [])] + from_runs:
        if rid and rid not in seen:
            seen.append(rid)
    return seen


@dataclass
class _Index:
    inputs: dict = field(default_factory=dict)    # run -> version keys it used
    used_by: dict = field(default_factory=dict)   # version key -> runs that used it
    outputs: dict = field(default_factory=dict)   # run -> version keys it logged
    made_by: dict = field(default_factory=dict)   # version key -> runs whose outputs name it
    records: dict = field(default_factory=dict)   # run -> record


def _add(d: dict, k: str, item: str) -> None:
    lst = d.setdefault(k, [])
    if item not in lst:
        lst.append(item)


def _index(repo: Repository) -> _Index:
    """Inputs and outputs over all runs; a run that has not finished (no outputs.json yet)
    gets its outputs from the version records' ``logged_by``."""
    ix = _Index()
    unfinished = set()
    for project, rid in repo.runs.ids():
        rec = repo.runs.read(project, rid)
        ix.records[rid] = rec
        ix.inputs[rid], ix.outputs[rid] = [], []
        for it in rec.get("inputs", []):
            k = _vkey(it["project"], it["name"], it["version"])
            _add(ix.inputs, rid, k)
            _add(ix.used_by, k, rid)
        for it in rec.get("outputs", []):
            k = _vkey(it["project"], it["name"], it["version"])
            _add(ix.outputs, rid, k)
            _add(ix.made_by, k, rid)
        if not rec.get("outputs_final", True):
            unfinished.add(rid)
    if unfinished:
        for p, n, v, rec in repo.artifacts.logged_versions():
            for e in rec.get("logged_by", []):
                if e.get("run") in unfinished:
                    _add(ix.outputs, e["run"], _vkey(p, n, v))
    return ix


@dataclass
class Graph:
    root: str
    nodes: dict = field(default_factory=dict)  # id -> {kind, label, ...}
    edges: list = field(default_factory=list)  # (src, dst, kind)

    def add_edge(self, src: str, dst: str, kind: str) -> None:
        if (src, dst, kind) not in self.edges:
            self.edges.append((src, dst, kind))

    def to_dict(self) -> dict:
        return {"root": self.root, "nodes": [dict(id=k, **v) for k, v in self.nodes.items()],
                "edges": [{"from": s, "to": d, "kind": k} for s, d, k in self.edges]}


def build(repo: Repository, start: str, direction: str = "both", depth: int | None = None) -> Graph:
    """Walk from ``start`` ('artifact:p/n:vN' or 'run:<id>')."""
    if direction not in ("up", "down", "both"):
        raise InvalidInputError(f"lineage direction {direction!r} is not one of up, down, both",
                                "pass direction='up', 'down' or 'both'")
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise InvalidInputError(f"lineage depth must be a non-negative integer, not {depth!r}",
                                "pass depth=None for any depth, or e.g. depth=2")
    ix = _index(repo)
    inputs, used_by, records = ix.inputs, ix.used_by, ix.records
    g = Graph(start)
    versions: dict[str, dict] = {}

    def version_rec(key: str) -> dict:
        if key not in versions:
            p_n, ver = key[len("artifact:"):].rsplit(":", 1)
            p, n = p_n.split("/", 1)
            st = repo.artifacts.state(p, n)
            vi = (repo.artifacts.version(st, ver) or repo.artifacts.version(st, ver, trash=True)) if st else None
            versions[key] = vi.record if vi else {}
            g.nodes[key] = {"kind": "artifact", "label": f"{n}:{ver}", "type": versions[key].get("type"),
                            "aliases": vi.aliases if vi else [], "missing": vi is None}
        return versions[key]

    def run_node(rid: str) -> None:
        rec = records.get(rid, {})
        g.nodes[f"run:{rid}"] = {"kind": "run", "label": f"{rec.get('name', '?')} ({rid})",
                                 "job_type": rec.get("job_type"), "state": rec.get("state")}

    def outputs_of(rid: str) -> list[str]:
        return ix.outputs.get(rid, [])

    def producers(key: str) -> list[str]:
        return _producers_of(version_rec(key), ix.made_by.get(key, []))

    def walk(node: str, up: bool, d: int, seen: set) -> None:
        if node in seen or (depth is not None and d >= depth):
            return
        seen.add(node)
        if node.startswith("artifact:"):
            nexts = producers(node) if up else used_by.get(node, [])
            for rid in nexts:
                run_node(rid)
                r = f"run:{rid}"
                g.add_edge(r, node, "output") if up else g.add_edge(node, r, "input")
                walk(r, up, d + 1, seen)
        else:
            rid = node[len("run:"):]
            nexts = inputs.get(rid, []) if up else outputs_of(rid)
            for k in nexts:
                version_rec(k)
                g.add_edge(k, node, "input") if up else g.add_edge(node, k, "output")
                walk(k, up, d + 1, seen)

    if start.startswith("artifact:"):
        version_rec(start)
    else:
        run_node(start[len("run:"):])
    if direction in ("up", "both"):
        walk(start, True, 0, set())
    if direction in ("down", "both"):
        walk(start, False, 0, set())
    return g


# ---- rendering --------------------------------------------------------------
def render(g: Graph, fmt: str = "text") -> str:
    return {"text": to_text, "json": to_json, "dot": to_dot, "mermaid": to_mermaid}[fmt](g)


def to_json(g: Graph) -> str:
    return json.dumps(g.to_dict(), indent=2, sort_keys=True)


def _label(g: Graph, node: str) -> str:
    n = g.nodes.get(node, {})
    if n.get("kind") == "run":
        return f"run {n['label']}"
    al = f" [{', '.join(n.get('aliases') or [])}]" if n.get("aliases") else ""
    return f"{node[len('artifact:'):]}{al}"


def to_text(g: Graph) -> str:
    ups = {}
    downs = {}
    for s, d, _ in g.edges:
        downs.setdefault(s, []).append(d)
        ups.setdefault(d, []).append(s)
    lines = []

    def tree(node, links, prefix, seen, arrow):
        kids = links.get(node, [])
        for i, k in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(f"{prefix}{'└─' if last else '├─'}{arrow} {_label(g, k)}")
            if k not in seen:
                tree(k, links, prefix + ("   " if last else "│  "), seen | {k}, arrow)

    lines.append(_label(g, g.root))
    if ups.get(g.root):
        lines.append("upstream (made from):")
        tree(g.root, ups, "  ", {g.root}, "◀")
    if downs.get(g.root):
        lines.append("downstream (used by):")
        tree(g.root, downs, "  ", {g.root}, "▶")
    if not ups.get(g.root) and not downs.get(g.root):
        lines.append("  (no recorded lineage)")
    return "\n".join(lines)


def _ids(g: Graph) -> dict:
    return {n: f"n{i}" for i, n in enumerate(g.nodes)}


def to_dot(g: Graph) -> str:
    ids = _ids(g)
    out = ["digraph lineage {", "  rankdir=LR;"]
    for n, attrs in g.nodes.items():
        shape = "box" if attrs["kind"] == "run" else "ellipse"
        label = _label(g, n).replace("\\", "\\\\").replace('"', '\\"')
        style = ', style="bold"' if n == g.root else ""
        out.append(f'  {ids[n]} [label="{label}", shape={shape}{style}];')
    for s, d, k in g.edges:
        out.append(f'  {ids[s]} -> {ids[d]} [label="{k}"];')
    out.append("}")
    return "\n".join(out)


def to_mermaid(g: Graph) -> str:
    ids = _ids(g)
    out = ["graph LR"]
    for n, attrs in g.nodes.items():
        label = _label(g, n).replace('"', "#quot;")
        out.append(f'  {ids[n]}["{label}"]' if attrs["kind"] == "run" else f'  {ids[n]}(["{label}"])')
    for s, d, k in g.edges:
        out.append(f"  {ids[s]} -->|{k}| {ids[d]}")
    return "\n".join(out)
