"""`mvc diff A B [--json] [--stat]`: the text table, the stat lines, JSON, escaping, exit codes;
and that a diff reads only the tensors whose chunks differ."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from click.testing import CliRunner

import mvc
from diff_kit import safetensors, tensor_bytes
from mvc.cli import cli
from test_diff import file_of, log_dir


def run_cli(*args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, (res.output, res.stderr, res.exception)
    return res


def _two_versions(project):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((16, 16)).astype(np.float32)
    b = a.copy()
    b[0, 0] += 1.0
    evil = "w\x1b[31m\nfake line\u202e"
    log_dir(project, {"model.safetensors": safetensors({"w": ("F32", (16, 16), a.tobytes()),
                                                        evil: ("F32", (1,), tensor_bytes("F32", [1]))}),
                      "config.json": b'{"hidden": 64}', "notes.txt": b"n"})
    log_dir(project, {"model.safetensors": safetensors({"w": ("F32", (16, 16), b.tobytes()),
                                                        evil: ("F32", (1,), tensor_bytes("F32", [2]))}),
                      "config.json": b'{"hidden": 128}', "renamed.txt": b"n", "added.bin": b"abc"})


def test_text_output_lists_files_tensors_and_keys(project):
    _two_versions(project)
    out = run_cli("diff", "M:v0", "M:v1").output
    lines = out.splitlines()
    assert lines[0].startswith("--- proj/M:v0") and lines[1].startswith("+++ proj/M:v1")
    assert any(ln.split()[:2] == ["added", "added.bin"] for ln in lines)
    assert any(ln.split()[:4] == ["renamed", "notes.txt", "->", "renamed.txt"] for ln in lines)
    row = next(ln for ln in lines if ln.startswith("w ") or ln.split()[:1] == ["w"])
    assert row.split()[1:5] == ["changed", "F32", "[16,", "16]"] and row.split()[5] == "4"  # one float: 4 bytes
    assert any(ln.split()[:4] == ["/hidden", "changed", "64", "128"] for ln in lines)
    assert lines[-1] == "4 files changed, 1 added, 1 renamed, tensors: 2 changed, 1 JSON key changed"


def test_text_output_escapes_names_from_the_store(project):
    _two_versions(project)
    out = run_cli("diff", "M:v0", "M:v1").output
    assert "\x1b" not in out and "\u202e" not in out and "\nfake line" not in out
    assert "w\\x1b[31m\\nfake line\\u202e" in out


def test_stat_lines_and_summary(project):
    _two_versions(project)
    lines = run_cli("diff", "M:v0", "M:v1", "--stat").output.splitlines()
    assert lines == [" added.bin                | added (3 B)",
                     " config.json              | 1 key changed",
                     " model.safetensors        | tensors: 2 changed (0 unchanged)",
                     " notes.txt -> renamed.txt | renamed",
                     " 4 files changed, 1 added, 1 renamed, tensors: 2 changed, 1 JSON key changed"]


def test_json_output_is_the_api_object(project):
    _two_versions(project)
    got = json.loads(run_cli("diff", "M:v0", "M:v1", "--json").output)
    assert got == json.loads(json.dumps(mvc.Api().diff("M:v0", "M:v1")))
    assert set(got) == {"schema", "a", "b", "identical", "files", "summary"}
    f = file_of(got, "model.safetensors")
    assert set(f) == {"path", "old_path", "status", "old_size", "new_size", "old_digest", "new_digest", "format",
                      "shared_bytes", "tensors", "json", "metadata", "note"}
    t = f["tensors"]["changed"][0]
    assert set(t) == {"name", "status", "old_dtype", "new_dtype", "old_shape", "new_shape", "old_bytes",
                      "new_bytes", "bytes_changed", "max_abs_delta", "rel_l2", "cosine"}


def test_identical_and_unknown_addresses(project):
    log_dir(project, {"a.txt": b"x"})
    out = run_cli("diff", "M:v0", "M:latest").output
    assert out.splitlines()[-1] == "no changes (same content digest)"
    res = run_cli("diff", "M:v0", "M:v7", code=3)
    assert "no version v7" in res.stderr and "Traceback" not in res.output + res.stderr


def test_real_subprocess_prints_the_table(project):
    _two_versions(project)
    env = dict(os.environ, MVC_SERVER="0")
    res = subprocess.run([sys.executable, "-m", "mvc", "diff", "M:v0", "M:v1", "--stat"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1].startswith(" 4 files changed")


# ---- reading only what changed -------------------------------------------------

def _big(n_tensors: int, changed: set[int], shift: bool = False) -> bytes:
    """n tensors of 256 KiB (a file > 1 MiB, so the tensor-aligned chunker cuts it);
    ``shift`` puts a new tensor in front, moving every other one in the file."""
    tensors = {}
    if shift:
        tensors["aaa_front"] = ("F32", (4,), tensor_bytes("F32", [9, 9, 9, 9]))
    for i in range(n_tensors):
        v = np.full(65536, i, np.float32)
        if i in changed:
            v[100] += 1
        tensors[f"t{i:02d}"] = ("F32", (65536,), v.tobytes())
    return safetensors(tensors)


def test_reads_only_the_tensors_whose_chunks_differ(project):
    log_dir(project, {"m.safetensors": _big(8, set())})
    log_dir(project, {"m.safetensors": _big(8, {2, 5})})
    seen = []
    d = mvc.Api().diff("M:v0", "M:v1", progress=seen.append)
    assert sum(seen) == 2 * 2 * 256 * 1024  # the progress callback hears of the bytes compared
    t = file_of(d, "m.safetensors")["tensors"]
    assert sorted(x["name"] for x in t["changed"]) == ["t02", "t05"]
    assert t["read"] == 2 and t["unchanged"] == 6
    assert all(x["bytes_changed"] == 1 and x["max_abs_delta"] == 1.0 for x in t["changed"])  # 2.0 -> 3.0: 1 byte
    header = 8 + int.from_bytes(_big(8, set())[:8], "little")
    assert d["summary"]["bytes_read"] == 2 * header + 2 * 2 * 256 * 1024  # headers and the two tensors, both sides


def test_a_moved_tensor_with_the_same_chunks_is_not_read(project):
    log_dir(project, {"m.safetensors": _big(8, set())})
    log_dir(project, {"m.safetensors": _big(8, {3}, shift=True)})
    t = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")["tensors"]
    assert [x["name"] for x in t["added"]] == ["aaa_front"]
    assert [x["name"] for x in t["changed"]] == ["t03"] and t["read"] == 1 and t["unchanged"] == 7


def test_gguf_reads_only_the_tensors_whose_chunks_differ(project):
    from diff_kit import gguf

    def model(changed: int) -> bytes:
        tensors = {}
        for i in range(6):
            v = np.full(65536, i, np.float32)
            if i == changed:
                v[7] = -1
            tensors[f"blk.{i}.w"] = ("F32", (65536,), v.tobytes())
        return gguf(tensors, {"general.name": "m"})
    log_dir(project, {"m.gguf": model(-1)})
    log_dir(project, {"m.gguf": model(4)})
    d = mvc.Api().diff("M:v0", "M:v1")
    t = file_of(d, "m.gguf")["tensors"]
    assert [x["name"] for x in t["changed"]] == ["blk.4.w"] and t["read"] == 1 and t["unchanged"] == 5
    assert t["changed"][0]["max_abs_delta"] == 5.0
    assert d["summary"]["bytes_read"] < len(model(-1)) // 2  # the header chunks and one tensor, both sides
