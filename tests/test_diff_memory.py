"""mvc diff's memory stays flat however large the tensors: peak RSS of a real subprocess
(VmHWM, the high-water mark of its own memory: Linux carries ru_maxrss over from the parent
through fork and exec, so a child of a big pytest process would report the parent's) diffing two 64 MiB versions whose every tensor changed.  Loading whole tensors
would take > 300 MB here (an I8 tensor of 16 Mi elements is 128 MiB as float64); the
streamed diff adds well under 100 MiB to the interpreter.  The 4 GiB figure is in
bench/diff.py and docs/performance.md ("Diff")."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import mvc
from diff_kit import write_safetensors_stream

MiB = 1 << 20
TENSORS = [("f32", "F32", 8 * MiB, 4), ("i8", "I8", 16 * MiB, 1), ("bf16", "BF16", 8 * MiB, 2)]


def _write(path, changed: bool) -> None:
    def fill(name, nbytes):
        rng = np.random.default_rng(len(name))
        for _ in range(0, nbytes, 4 * MiB):
            raw = rng.integers(0, 255, 4 * MiB, dtype=np.uint8)
            if changed:
                raw[::13] ^= 1
            yield raw.tobytes()
    write_safetensors_stream(path, [(n, dt, (elems,), elems * size) for n, dt, elems, size in TENSORS], fill)


def _peak_rss_mib(project, a: str, b: str) -> tuple[float, dict]:
    code = ("import json, mvc\n"
            f"d = mvc.Api().diff({a!r}, {b!r})\n"
            "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')][0].split()[1]\n"
            "print(json.dumps({'rss': int(hwm), 's': d['summary']}))")
    res = subprocess.run([sys.executable, "-c", code], cwd=project, env=dict(os.environ, MVC_SERVER="0"),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    import json
    out = json.loads(res.stdout)
    return out["rss"] / 1024, out["s"]


def test_peak_rss_of_a_diff_of_changed_large_tensors(project):
    f = project / "m.safetensors"
    for changed in (False, True):
        _write(f, changed)
        with mvc.init(project="proj") as run:
            run.log_model(str(f), name="M")
    f.unlink()
    base, s0 = _peak_rss_mib(project, "M:v0", "M:v0")  # the same imports, nothing read
    peak, s = _peak_rss_mib(project, "M:v0", "M:v1")
    assert s0["bytes_read"] == 0
    assert s["tensors_changed"] == 3 and s["bytes_read"] > 2 * 64 * MiB  # every tensor read, both sides
    print(f"peak RSS {peak:.0f} MiB, interpreter and imports {base:.0f} MiB")
    assert peak - base < 100, (peak, base)
    assert peak < 150, peak
