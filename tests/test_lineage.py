"""SPEC "Lineage": walk up/downstream to any depth; text, JSON, DOT, Mermaid."""
from __future__ import annotations

import json
import re

import pytest

import mvc
from mvc.api import lineage


@pytest.fixture
def chain(project):
    """run1 -> A:v0 -> run2 -> B:v0 -> run3"""
    (project / "a.bin").write_bytes(b"A")
    (project / "b.bin").write_bytes(b"B")
    with mvc.init(job_type="prep") as r1:
        r1.log_artifact(str(project / "a.bin"), name="A", type="dataset")
    with mvc.init(job_type="train") as r2:
        r2.use_artifact("A:latest")
        r2.log_model(str(project / "b.bin"), name="B")
    with mvc.init(job_type="eval") as r3:
        r3.use_model("B")
    return r1.id, r2.id, r3.id


def _edges(g) -> set:
    return {(s, d) for s, d, _ in g.edges}


A, B = "artifact:proj/A:v0", "artifact:proj/B:v0"


def test_upstream_any_depth(chain):
    r1, r2, r3 = chain
    g = mvc.Api().lineage("B:v0", direction="up")
    assert _edges(g) == {(f"run:{r2}", B), (A, f"run:{r2}"), (f"run:{r1}", A)}
    g = mvc.Api().lineage(f"run:{r3}", direction="up")
    assert _edges(g) == {(B, f"run:{r3}"), (f"run:{r2}", B), (A, f"run:{r2}"), (f"run:{r1}", A)}


def test_downstream_any_depth_and_depth_limit(chain):
    r1, r2, r3 = chain
    g = mvc.Api().lineage("A", direction="down")
    assert _edges(g) == {(A, f"run:{r2}"), (f"run:{r2}", B), (B, f"run:{r3}")}
    g = mvc.Api().lineage(f"run:{r1}", direction="down")
    assert (B, f"run:{r3}") in _edges(g)
    assert _edges(mvc.Api().lineage("A", direction="down", depth=1)) == {(A, f"run:{r2}")}
    both = mvc.Api().lineage("B", direction="both")
    assert _edges(both) == {(f"run:{r2}", B), (A, f"run:{r2}"), (f"run:{r1}", A), (B, f"run:{r3}")}


def test_relog_shows_every_logger(project):
    (project / "m.bin").write_bytes(b"same")
    runs = []
    for _ in range(2):
        with mvc.init() as r:
            r.log_model(str(project / "m.bin"), name="M")
        runs.append(r.id)
    g = mvc.Api().lineage("M:v0", direction="up")
    assert {s for s, d in _edges(g)} == {f"run:{r}" for r in runs}


def test_json_render(chain):
    r1, r2, r3 = chain
    data = json.loads(lineage.render(mvc.Api().lineage("B"), "json"))
    assert data["root"] == B
    kinds = {n["id"]: n["kind"] for n in data["nodes"]}
    assert kinds[A] == "artifact" and kinds[f"run:{r2}"] == "run"
    assert {"from": f"run:{r2}", "to": B, "kind": "output"} in data["edges"]
    assert {"from": B, "to": f"run:{r3}", "kind": "input"} in data["edges"]


def test_dot_render(chain):
    r1, r2, r3 = chain
    dot = lineage.render(mvc.Api().lineage("B"), "dot")
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    ids = dict(re.findall(r'^\s+(n\d+) \[label="([^"]*)"', dot, re.M))
    edges = {(ids[s], ids[d]) for s, d in re.findall(r"^\s+(n\d+) -> (n\d+)", dot, re.M)}
    names = {v: k for k, v in ids.items()}
    assert len(edges) == 4
    assert any("proj/A:v0" in s and r2 in d for s, d in edges)
    assert any(r2 in s and "proj/B:v0" in d for s, d in edges)
    assert names  # every node has a label
    gv = __import__("shutil").which("dot")
    if gv:  # Graphviz parses it when installed
        import subprocess
        assert subprocess.run([gv, "-Tsvg"], input=dot, text=True, capture_output=True).returncode == 0


def test_mermaid_render(chain):
    r1, r2, r3 = chain
    mm = lineage.render(mvc.Api().lineage("B"), "mermaid")
    lines = mm.splitlines()
    assert lines[0] == "graph LR"
    labels = dict(re.findall(r'^\s+(n\d+)\(?\["?\(?\[?"?([^"\]]*)', mm, re.M))
    edges = re.findall(r"^\s+(n\d+) -->\|(\w+)\| (n\d+)$", mm, re.M)
    assert len(edges) == 4
    pairs = {(labels[s], k, labels[d]) for s, k, d in edges}
    assert any("proj/A:v0" in s and k == "input" and r2 in d for s, k, d in pairs)
    assert any(r3 in d and "proj/B:v0" in s for s, k, d in pairs)


def test_text_render(chain):
    r1, r2, r3 = chain
    text = lineage.render(mvc.Api().lineage("B"), "text")
    assert text.splitlines()[0].startswith("proj/B:v0")
    assert "upstream (made from):" in text and "downstream (used by):" in text
    up = text.split("downstream")[0]
    assert r2 in up and "proj/A:v0" in up and r1 in up
    assert r3 in text.split("downstream")[1]
    (project_none) = mvc.Api().lineage("A", depth=0)
    assert "(no recorded lineage)" in lineage.render(project_none, "text")
