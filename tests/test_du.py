"""mvc du: logical vs stored bytes and the dedup ratio."""
from __future__ import annotations

import json
import os
import random

from click.testing import CliRunner

import mvc
from mvc.cli import cli
from mvc.repo import Repository
from mvc.repo.usage import store_usage


def test_dedup_is_counted(project):
    # fixed bytes: with random ones, FastCDC cuts a 3 MiB file in as few as 2 chunks about a
    # quarter of the time, and an insertion then renews more than half of it (a flaky test)
    base = random.Random(0).randbytes(3 << 20)
    p = project / "m.bin"
    with mvc.init() as run:
        p.write_bytes(base)
        run.log_model(str(p), name="M")
        p.write_bytes(base[:1 << 20] + b"changed" + base[1 << 20:])
        run.log_model(str(p), name="M")
        (project / "c.txt").write_text("config")
        run.log_artifact(str(project / "c.txt"), name="C", type="config")
    u = store_usage(Repository.find(str(project)))
    m = next(a for a in u["artifacts"] if a["name"] == "M")
    v0, v1 = m["versions"]
    assert v0["logical"] == v0["stored"] == v0["new"] == len(base)
    assert 0 < v1["new"] < len(base) // 2
    assert m["stored"] == v0["stored"] + v1["new"] and m["dedup_ratio"] > 1.3
    assert u["logical"] == 2 * len(base) + 7 + 6 and u["unreferenced"] == 0
    assert u["stored"] == m["stored"] + 6


def test_cli_json(project):
    (project / "m.bin").write_bytes(os.urandom(1000))
    with mvc.init() as run:
        run.log_model(str(project / "m.bin"), name="M")
    res = CliRunner().invoke(cli, ["du", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["logical"] == 1000 and data["stored"] == 1000 and data["artifacts"][0]["name"] == "M"
    res = CliRunner().invoke(cli, ["du", "M"])
    assert res.exit_code == 0 and "v0" in res.output and "1.00x" in res.output
