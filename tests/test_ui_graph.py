"""The lineage drawing of `mvc ui` (mvc/ui/graph.py and lineage.html) without a browser:
columns by signed distance from the root, a cycle drawn rather than walked for ever, and
store text escaped inside the SVG."""
from __future__ import annotations

from mvc.ui import graph
from mvc.ui.app import templates


def node(i: str, kind: str = "artifact", **kw) -> dict:
    label = i.split(":", 1)[1].split("/")[-1] if kind == "artifact" else f"{i[4:]}-name ({i[4:]})"
    return dict(id=i, kind=kind, label=label, **kw)


def lineage(root: str, nodes: list[dict], edges: list[tuple]) -> dict:
    return {"root": root, "nodes": nodes, "edges": [{"from": s, "to": d, "kind": k} for s, d, k in edges]}


def test_columns_follow_the_data_upstream_left_downstream_right():
    v0, v1, v2 = "artifact:p/m:v0", "artifact:p/m:v1", "artifact:p/m:v2"
    g = lineage(v1, [node(v0), node(v1), node(v2), node("run:a", "run"), node("run:b", "run"), node("run:c", "run")],
                [("run:a", v0, "output"), (v0, "run:b", "input"), ("run:b", v1, "output"),
                 (v1, "run:c", "input"), ("run:c", v2, "output")])
    out = graph.layout(g)
    x = {n["id"]: n["x"] for n in out["nodes"]}
    assert x["run:a"] < x[v0] < x["run:b"] < x[v1] < x["run:c"] < x[v2]
    assert [n["id"] for n in out["nodes"] if n["root"]] == [v1]
    assert len(out["edges"]) == 5 and all(e["d"].startswith("M") for e in out["edges"])
    assert out["width"] >= x[v2] + graph.NODE_W
    hrefs = {n["id"]: n["href"] for n in out["nodes"]}
    assert hrefs[v0] == "/p/p/a/m/v0" and hrefs["run:b"] == "/runs/b"
    run_b = next(n for n in out["nodes"] if n["id"] == "run:b")
    assert run_b["label"] == "run b-name" and run_b["sub"].startswith("b")


def test_siblings_stack_and_a_cycle_is_drawn_not_walked():
    v0, v1 = "artifact:p/m:v0", "artifact:p/m:v1"
    runs = [f"run:r{i}" for i in range(3)]
    edges = [(v0, r, "input") for r in runs] + [(runs[0], v1, "output"), (runs[1], v0, "output")]
    g = lineage(v0, [node(v0), node(v1)] + [node(r, "run") for r in runs], edges)
    out = graph.layout(g)
    pos = {n["id"]: (n["x"], n["y"]) for n in out["nodes"]}
    assert pos[runs[0]][0] == pos[runs[2]][0] > pos[v0][0]       # consumers stacked in one column
    assert pos[runs[0]][1] != pos[runs[2]][1]
    assert pos[runs[1]][0] < pos[v0][0]              # used and logged v0: placed as its producer
    assert len(out["edges"]) == 5                     # v0 -> r1 then runs backwards: drawn as a loop
    assert out["height"] >= 2 * graph.NODE_H


def test_a_missing_version_is_drawn_without_a_link():
    v0 = "artifact:p/m:v0"
    gone = "artifact:p/m:v7"
    g = lineage(v0, [node(v0), node(gone, missing=True), node("run:a", "run")],
                [(v0, "run:a", "input"), ("run:a", gone, "output")])
    hrefs = {n["id"]: n["href"] for n in graph.layout(g)["nodes"]}
    assert hrefs[gone] is None and hrefs[v0]


def test_store_text_in_the_svg_is_escaped():
    hostile = '</text><script>alert(1)</script><a href="javascript:x">'
    v0 = "artifact:p/m:v0"
    g = lineage(v0, [node(v0, aliases=[hostile]), dict(id="run:a", kind="run", label=hostile + " (a)",
                                                        job_type=hostile, state="finished")],
                [("run:a", v0, "output")])
    html = templates().get_template("lineage.html").render(
        request_path="/x", write=False, token="", title=hostile, back="/", depth="",
        svg=graph.layout(g), counts={"versions": 1, "runs": 1, "edges": 1})
    assert "<script>" not in html and 'href="javascript' not in html
    assert "&lt;/text&gt;&lt;script&gt;" in html
