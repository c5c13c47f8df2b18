"""The diff's compiled kernel (mvc/repo/_diffkernel.c) against numpy, element by element.

Both of its loops are checked on this CPU: the AVX2 + F16C one (where the CPU has them) and the
portable one every other machine runs; and an install without a C compiler is checked to build,
install and diff with numpy alone."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from mvc.repo import diff_values
from test_diff import values_path  # noqa: F401 - a fixture: each test through the kernel and through numpy

KINDS = {"F32": 0, "F16": 1, "BF16": 2}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(params=["vector", "portable"])
def kernel(request):
    k = diff_values._kernel()
    assert k is not None, "mvc/repo/_diffkernel.c was not built: is there a C compiler?"
    k.set_vector(request.param == "vector")
    if request.param == "vector" and k.vector_path() == "portable":
        k.set_vector(True)
        pytest.fail("this x86-64 CPU lacks AVX2 or F16C: the vector loop cannot be checked here")
    try:
        yield k
    finally:
        k.set_vector(True)


def widened(dtype: str, raw: bytes) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # signalling NaNs among the bit patterns
        if dtype == "BF16":
            return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        return np.frombuffer(raw, {"F32": "<f4", "F16": "<f2"}[dtype]).astype(np.float64)


def numpy_totals(dtype: str, raw_a: bytes, raw_b: bytes) -> tuple:
    x, y = widened(dtype, raw_a), widened(dtype, raw_b)
    d = x - y
    changed = int(np.count_nonzero(np.frombuffer(raw_a, np.uint8) != np.frombuffer(raw_b, np.uint8)))
    return changed, float(x @ x), float(y @ y), float(d @ d), float(np.max(np.abs(d))) if d.size else 0.0


def stored(dtype: str, values: np.ndarray) -> bytes:
    if dtype == "BF16":
        return (values.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    return values.astype({"F32": "<f4", "F16": "<f2"}[dtype]).tobytes()


@pytest.mark.parametrize("dtype", list(KINDS))
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 63, 1000, 32768 + 5])
def test_totals_match_numpy_for_every_length(kernel, dtype, n):
    """Lengths around the vector loop's 8 elements: the tail goes through the portable loop."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n) * 0.02
    b = a + rng.standard_normal(n) * 1e-3 * (rng.random(n) < 0.7)  # some elements unchanged
    raw_a, raw_b = stored(dtype, a), stored(dtype, b)
    got = kernel.compare(KINDS[dtype], raw_a, raw_b)
    want = numpy_totals(dtype, raw_a, raw_b)
    assert got[0] == want[0]
    for g, w in zip(got[1:4], want[1:4]):
        assert math.isclose(g, w, rel_tol=1e-12, abs_tol=1e-300), (got, want)
    assert got[4] == want[4]  # a maximum is exact


@pytest.mark.parametrize("dtype", ["F16", "BF16"])
def test_every_half_precision_value_widens_exactly(kernel, dtype):
    """All 65,536 bit patterns, eight at a time against zeros (so the vector loop takes them):
    sum a*a and max |a| give back each value exactly, subnormals, infinities and NaNs included."""
    bits = np.repeat(np.arange(1 << 16, dtype="<u2"), 8)
    zeros = bytes(16)
    values = widened(dtype, bits.tobytes())[::8]
    raw = bits.tobytes()
    for i in range(0, len(raw), 16):
        changed, a2, b2, d2, m = kernel.compare(KINDS[dtype], raw[i:i + 16], zeros)
        v = values[i // 16]
        assert b2 == 0.0
        if math.isnan(v):
            assert math.isnan(a2) and math.isnan(d2), (i // 16, a2)
        else:
            assert a2 == 8 * v * v or (math.isinf(v) and math.isinf(a2)), (i // 16, a2, v)
            assert m == abs(v), (i // 16, m, v)
        assert changed == 8 * ((i // 16 & 0xff) != 0) + 8 * ((i // 16 >> 8) != 0)


def test_special_values_and_signed_zero(kernel):
    """-0.0 against 0.0 is a change of bytes, not of value; an infinity against a number is an
    infinite change; a NaN shows as a NaN sum of squares (the caller's sign of "undefined")."""
    a = np.array([0.0, 1.0, np.inf, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], np.float32)
    b = np.array([-0.0, 1.0, 1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0], np.float32)
    changed, a2, b2, d2, m = kernel.compare(0, a[:1].tobytes(), b[:1].tobytes())
    assert (changed, a2, b2, d2, m) == (1, 0.0, 0.0, 0.0, 0.0)
    changed, a2, b2, d2, m = kernel.compare(0, a.tobytes(), b.tobytes())
    assert changed == numpy_totals("F32", a.tobytes(), b.tobytes())[0] == 1 + 1 + 2
    assert math.isinf(a2) and math.isnan(b2) and math.isnan(d2) and math.isinf(m)


def test_refuses_what_it_cannot_read():
    k = diff_values._kernel()
    with pytest.raises(ValueError, match="same whole number of 2-byte elements"):
        k.compare(1, b"\0" * 4, b"\0" * 6)
    with pytest.raises(ValueError, match="same whole number of 4-byte elements"):
        k.compare(0, b"\0" * 6, b"\0" * 6)
    with pytest.raises(ValueError, match="unknown element kind 3"):
        k.compare(3, b"", b"")
    with pytest.raises(TypeError):
        k.compare(0, "text", "text")


def test_reads_any_buffer_in_place():
    """memoryviews of one numpy buffer (how the diff hands it its two sides), and bytes, alike."""
    k = diff_values._kernel()
    raw = np.arange(64, dtype=np.float32)
    view = memoryview(raw.view(np.uint8))
    assert k.compare(0, view[:128], view[128:]) == k.compare(0, raw[:32].tobytes(), raw[32:].tobytes())


def test_releases_the_gil_so_threads_compare_at_once():
    """Another thread runs Python code while one compare runs: the times it records leave no gap
    of half the call's length (with the GIL held through the call, the gap would be the call)."""
    k = diff_values._kernel()
    a = b = bytes(128 << 20)  # 64 Mi F16 elements (calloc'd zero pages: no RSS): ~0.1 s
    running = threading.Event()
    stop = threading.Event()
    ticks = []

    def count():
        running.set()
        while not stop.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=count)
    t.start()
    running.wait()
    try:
        before = time.perf_counter()
        k.compare(1, a, b)
        after = time.perf_counter()
    finally:
        stop.set()
        t.join()
    inside = [before] + [tick for tick in ticks if before < tick < after] + [after]
    assert max(y - x for x, y in zip(inside, inside[1:])) < (after - before) / 2


def test_nan_left_in_place_is_no_change(values_path):
    """A NaN (or infinity) at the same place on both sides is not a change: max |Δ| is over the
    elements whose bytes differ, the same through the kernel and through numpy."""
    change = diff_values.Change("F16")
    a = np.array([np.nan, 1.0, np.inf] + [0.5] * 13, np.float16)
    b = a.copy()
    b[1] = 1.5
    with np.errstate(invalid="ignore"):  # as diff.py calls it
        change.add(a.tobytes(), b.tobytes())
    r = change.result()
    assert r["max_abs_delta"] == 0.5 and r["bytes_changed"] == 1 and r["rel_l2"] is None


def test_install_without_a_compiler_still_diffs(tmp_path):
    """`pip install` where no C compiler runs: the wheel builds without the kernel (it is an
    optional extension) and the diff works on numpy alone."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "build", "*.so", "*.egg-info", "__pycache__",
                                                             ".mvc", "tests", "bench", "docs"))
    env = dict(os.environ, CC="false", LDSHARED="false")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheels"), str(src)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    [wheel] = os.listdir(tmp_path / "wheels")
    import zipfile
    names = zipfile.ZipFile(tmp_path / "wheels" / wheel).namelist()
    assert not [n for n in names if n.endswith(".so")], names
    target = tmp_path / "site"
    zipfile.ZipFile(tmp_path / "wheels" / wheel).extractall(target)
    code = ("import numpy as np\n"
            "from mvc.repo import diff_values as v\n"
            "assert v._kernel() is None, 'a kernel was found'\n"
            "c = v.Change('F16')\n"
            "a = np.arange(40, dtype=np.float16); b = a + np.float16(1)\n"
            "c.add(a.tobytes(), b.tobytes()); print(c.result()['max_abs_delta'])")
    run = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(target)), cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1.0"
