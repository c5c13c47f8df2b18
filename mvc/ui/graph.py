"""Lineage drawn on the server: a layered layout of the API's graph, given to an SVG
template as coordinates.  Columns are the signed distance from the version (or run) the
page is about: producers and their inputs to the left, consumers and their outputs to the
right, so a graph reads left to right as data flowed.  No script and no graph library:
a lineage graph is a few dozen nodes, and SVG's own <a> makes every node a link."""
from __future__ import annotations

from collections import deque

from .views import artifact_href, run_href

NODE_W, NODE_H = 210, 46
GAP_X, GAP_Y = 56, 22
MARGIN = 20
LABEL_CHARS = 26   # at 13 px bold, what fits a node; the sub-line is smaller
SUB_CHARS = 34


def layout(graph: dict) -> dict:
    """``graph``: the API's lineage dict (root, nodes, edges).  Returns width, height, nodes
    (x, y, kind, label, title, href, root) and edges (an SVG path each)."""
    ranks = _ranks(graph)
    columns: dict[int, list[str]] = {}
    for node in sorted(ranks, key=lambda n: (ranks[n], _label_of(graph, n))):
        columns.setdefault(ranks[node], []).append(node)
    first = min(columns) if columns else 0
    pos = {}
    for rank, members in columns.items():
        for i, node in enumerate(members):
            pos[node] = (MARGIN + (rank - first) * (NODE_W + GAP_X), MARGIN + i * (NODE_H + GAP_Y))
    nodes = [_node(graph, n, *pos[n]) for n in pos]
    edges = [_edge(pos[e["from"]], pos[e["to"]], e["kind"]) for e in graph["edges"]
             if e["from"] in pos and e["to"] in pos]
    width = MARGIN * 2 + len(columns) * NODE_W + max(len(columns) - 1, 0) * GAP_X
    tallest = max((len(m) for m in columns.values()), default=1)
    height = MARGIN * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y
    return {"width": width, "height": height, "nodes": nodes, "edges": edges, "node_w": NODE_W, "node_h": NODE_H}


def _ranks(graph: dict) -> dict[str, int]:
    """Signed breadth-first distance from the root: upstream negative, downstream positive."""
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for e in graph["edges"]:
        downs.setdefault(e["from"], []).append(e["to"])
        ups.setdefault(e["to"], []).append(e["from"])
    ranks = {graph["root"]: 0}
    for links, sign in ((ups, -1), (downs, 1)):
        queue = deque([graph["root"]])
        while queue:
            node = queue.popleft()
            for nxt in links.get(node, []):
                if nxt not in ranks:
                    ranks[nxt] = ranks[node] + sign
                    queue.append(nxt)
    for n in graph["nodes"]:             # a node the walks did not reach still gets drawn
        ranks.setdefault(n["id"], 0)
    return ranks


def _label_of(graph: dict, node_id: str) -> str:
    return next((n.get("label", "") for n in graph["nodes"] if n["id"] == node_id), node_id)


def _node(graph: dict, node_id: str, x: int, y: int) -> dict:
    attrs = next((n for n in graph["nodes"] if n["id"] == node_id), {"kind": "artifact", "label": node_id})
    kind = attrs.get("kind", "artifact")
    if kind == "run":
        run_id = node_id[len("run:"):]
        title = f"run {attrs.get('label', '')}"
        label = "run " + attrs.get("label", "").removesuffix(f" ({run_id})")
        sub = " · ".join(s for s in (run_id, attrs.get("job_type"), attrs.get("state")) if s)
        link = run_href(run_id)
    else:
        title = node_id[len("artifact:"):]
        label = attrs.get("label", node_id)
        sub = ", ".join(attrs.get("aliases") or []) or (attrs.get("type") or "")
        project, _, rest = title.partition("/")
        name, _, version = rest.rpartition(":")
        link = None if attrs.get("missing") else artifact_href(project, name, version)
    return {"id": node_id, "x": x, "y": y, "kind": kind, "label": _short(label),
            "sub": _short(sub, SUB_CHARS), "title": title, "href": link, "root": node_id == graph["root"]}


def _edge(src: tuple[int, int], dst: tuple[int, int], kind: str) -> dict:
    """A cubic curve from the right side of ``src`` to the left side of ``dst`` (or, for an edge
    that runs backwards, a loop around the right)."""
    (x1, y1), (x2, y2) = src, dst
    y1 += NODE_H // 2
    y2 += NODE_H // 2
    if x2 > x1:
        sx, ex = x1 + NODE_W, x2
        bend = (ex - sx) // 2
        d = f"M{sx},{y1} C{sx + bend},{y1} {ex - bend},{y2} {ex},{y2}"
    else:
        sx = ex = max(x1, x2) + NODE_W
        d = f"M{sx},{y1} C{sx + GAP_X},{y1} {ex + GAP_X},{y2} {ex},{y2}"
    return {"d": d, "kind": kind}


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
