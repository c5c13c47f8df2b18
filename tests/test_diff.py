"""mvc diff / Api().diff (issue 14, part 1): files, tensors, JSON keys, addresses."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import mvc
from diff_kit import gguf, safetensors, tensor_bytes
from mvc.errors import NotFoundError


def log_dir(project, files: dict, name="M", aliases=None):
    """Log a folder holding exactly ``files`` (path -> bytes) as a version of ``name``."""
    import shutil
    d = project / f"src-{name}"
    shutil.rmtree(d, ignore_errors=True)
    for rel, data in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    with mvc.init(project="proj") as run:
        return run.log_model(str(d), name=name, aliases=aliases)


def reference_stats(a: np.ndarray, b: np.ndarray) -> dict:
    """The numbers the diff must report, computed the plain way on whole arrays."""
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    d = a - b
    return {"max_abs_delta": float(np.max(np.abs(d))), "rel_l2": float(np.linalg.norm(d) / np.linalg.norm(a)),
            "cosine": float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))}


def by_name(entries: list) -> dict:
    return {e["name"]: e for e in entries}


def file_of(d: dict, path: str) -> dict:
    found = [f for f in d["files"] if f["path"] == path]
    assert len(found) == 1, d["files"]
    return found[0]


# ---- files -------------------------------------------------------------------

def test_files_added_removed_changed_renamed_with_sizes(project):
    log_dir(project, {"keep.bin": b"k" * 10, "old.bin": b"o" * 20, "edit.txt": b"one", "move/a.bin": b"same" * 5})
    log_dir(project, {"keep.bin": b"k" * 10, "new.bin": b"n" * 7, "edit.txt": b"two!", "moved/b.bin": b"same" * 5})
    d = mvc.Api().diff("M:v0", "M:v1")
    got = {(f["status"], f["old_path"], f["path"], f["old_size"], f["new_size"]) for f in d["files"]}
    assert got == {("removed", "old.bin", "old.bin", 20, None), ("added", None, "new.bin", None, 7),
                   ("changed", "edit.txt", "edit.txt", 3, 4), ("renamed", "move/a.bin", "moved/b.bin", 20, 20)}
    s = d["summary"]
    assert (s["files_added"], s["files_removed"], s["files_changed"], s["files_renamed"], s["files_unchanged"]) == \
        (1, 1, 1, 1, 1)
    assert d["a"]["address"] == "proj/M:v0" and d["b"]["address"] == "proj/M:v1"
    assert d["identical"] is False and d["schema"] == 1
    assert [f["path"] for f in d["files"]] == sorted(f["path"] for f in d["files"])


def test_identical_versions_read_nothing(project):
    data = safetensors({"w": ("F32", (4,), tensor_bytes("F32", [1, 2, 3, 4]))})
    log_dir(project, {"m.safetensors": data}, name="A")
    log_dir(project, {"m.safetensors": data}, name="B")  # another artifact, same content
    d = mvc.Api().diff("A:latest", "B")
    assert d["identical"] is True and d["files"] == []
    assert d["summary"]["bytes_read"] == 0 and d["summary"]["files_unchanged"] == 1


# ---- tensors -----------------------------------------------------------------

def _st(tensors: dict, metadata=None) -> bytes:
    return safetensors({n: (dt, np.shape(v), tensor_bytes(dt, v)) for n, (dt, v) in tensors.items()}, metadata)


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16", "F64", "I32", "I16", "I8", "I64", "U8"])
def test_changed_tensor_numbers_match_numpy(project, dtype, values_path):
    rng = np.random.default_rng(7)
    if dtype.startswith(("I", "U")):
        a = rng.integers(0, 100, size=(8, 16))
        b = a.copy()
        b[0, :5] += 3
        b[3, 7] -= 50
    else:
        a = rng.standard_normal((8, 16)).astype(np.float32)
        b = a.copy()
        b[1, :4] += 0.75
        b[5, 2] = -b[5, 2]
    log_dir(project, {"w.safetensors": _st({"t": (dtype, a), "same": ("F32", np.ones(3))})})
    log_dir(project, {"w.safetensors": _st({"t": (dtype, b), "same": ("F32", np.ones(3))})})
    d = mvc.Api().diff("M:v0", "M:v1")
    t = file_of(d, "w.safetensors")["tensors"]
    assert t["unchanged"] == 1 and not t["added"] and not t["removed"]
    [ch] = t["changed"]
    # the values as stored (F16/BF16 rounded), widened independently of mvc
    if dtype == "BF16":
        wa = np.frombuffer(tensor_bytes("BF16", a), "<u2").astype(np.uint32) << 16
        wb = np.frombuffer(tensor_bytes("BF16", b), "<u2").astype(np.uint32) << 16
        va, vb = wa.view(np.float32), wb.view(np.float32)
    else:
        va, vb = np.asarray(a).astype(dtype_np(dtype)), np.asarray(b).astype(dtype_np(dtype))
    want = reference_stats(va, vb)
    for k, v in want.items():
        assert math.isclose(ch[k], v, rel_tol=1e-9, abs_tol=1e-12), (k, ch[k], v)
    raw_a, raw_b = tensor_bytes(dtype, a), tensor_bytes(dtype, b)
    assert ch["bytes_changed"] == sum(x != y for x, y in zip(raw_a, raw_b)) > 0
    assert (ch["old_dtype"], ch["new_dtype"], ch["old_shape"], ch["new_shape"]) == (dtype, dtype, [8, 16], [8, 16])
    assert ch["old_bytes"] == ch["new_bytes"] == len(raw_a)


def dtype_np(dtype: str):
    return {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I32": np.int32, "I16": np.int16,
            "I8": np.int8, "I64": np.int64, "U8": np.uint8}[dtype]


def test_tensors_added_removed_dtype_and_shape_changed(project):
    log_dir(project, {"m.safetensors": _st({"gone": ("F32", np.ones(4)), "cast": ("F32", np.ones(4)),
                                            "reshape": ("F32", np.ones((2, 2))), "keep": ("I8", np.arange(3))})})
    log_dir(project, {"m.safetensors": _st({"new": ("F16", np.ones(2)), "cast": ("F16", np.ones(4)),
                                            "reshape": ("F32", np.ones((4, 1))), "keep": ("I8", np.arange(3))})})
    t = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")["tensors"]
    assert [x["name"] for x in t["added"]] == ["new"] and t["added"][0]["new_dtype"] == "F16"
    assert t["added"][0]["old_dtype"] is None
    assert [x["name"] for x in t["removed"]] == ["gone"] and t["removed"][0]["old_shape"] == [4]
    ch = by_name(t["changed"])
    assert (ch["cast"]["old_dtype"], ch["cast"]["new_dtype"], ch["cast"]["bytes_changed"]) == ("F32", "F16", None)
    assert (ch["reshape"]["old_shape"], ch["reshape"]["new_shape"]) == ([2, 2], [4, 1])
    assert ch["reshape"]["max_abs_delta"] is None
    assert t["unchanged"] == 1


def test_zero_tensor_gives_null_ratios_not_a_crash(project):
    log_dir(project, {"m.safetensors": _st({"z": ("F32", np.zeros(4))})})
    log_dir(project, {"m.safetensors": _st({"z": ("F32", np.array([0, 0, 1.5, 0]))})})
    [ch] = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")["tensors"]["changed"]
    assert ch["max_abs_delta"] == 1.5 and ch["rel_l2"] is None and ch["cosine"] is None


def test_safetensors_metadata_changes(project):
    log_dir(project, {"m.safetensors": _st({"w": ("F32", np.ones(2))}, {"format": "pt", "step": "1"})})
    log_dir(project, {"m.safetensors": _st({"w": ("F32", np.ones(2))}, {"format": "pt", "step": "2"})})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")
    assert f["format"] == "safetensors" and f["tensors"]["changed"] == []
    assert f["metadata"]["changed"] == [{"path": "/step", "old": "1", "new": "2", "elided": False}]


# ---- GGUF --------------------------------------------------------------------

def test_gguf_float_stats_and_quantised_bytes_only(project):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(64).astype(np.float32)
    b = a.copy()
    b[10] += 2.0
    q_a = bytes(rng.integers(0, 256, 36, dtype=np.uint8))  # two Q4_0 blocks of 18 bytes: 64 elements
    q_b = bytearray(q_a)
    q_b[5] ^= 0xFF
    q_b[30] ^= 0x01
    log_dir(project, {"m.gguf": gguf({"f": ("F32", (64,), a.tobytes()), "q": ("Q4_0", (64,), q_a),
                                      "same": ("F16", (8,), np.ones(8, np.float16).tobytes())},
                                     {"general.name": "one"})})
    log_dir(project, {"m.gguf": gguf({"f": ("F32", (64,), b.tobytes()), "q": ("Q4_0", (64,), bytes(q_b)),
                                      "same": ("F16", (8,), np.ones(8, np.float16).tobytes()),
                                      "extra": ("I32", (2,), np.arange(2, dtype=np.int32).tobytes())},
                                     {"general.name": "two"})})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.gguf")
    assert f["format"] == "gguf"
    t = f["tensors"]
    ch = by_name(t["changed"])
    assert set(ch) == {"f", "q"} and t["unchanged"] == 1 and [x["name"] for x in t["added"]] == ["extra"]
    assert ch["f"]["max_abs_delta"] == pytest.approx(2.0) and ch["f"]["bytes_changed"] >= 1
    want = reference_stats(a, b)
    assert ch["f"]["rel_l2"] == pytest.approx(want["rel_l2"]) and ch["f"]["cosine"] == pytest.approx(want["cosine"])
    assert ch["q"]["new_dtype"] == "Q4_0" and ch["q"]["bytes_changed"] == 2 and ch["q"]["old_bytes"] == 36
    assert ch["q"]["max_abs_delta"] is None and ch["q"]["rel_l2"] is None and ch["q"]["cosine"] is None
    assert {"path": "/general.name", "old": "one", "new": "two", "elided": False} in f["metadata"]["changed"]


# ---- JSON --------------------------------------------------------------------

def test_json_key_level_changes(project):
    old = {"hidden_size": 768, "architectures": ["Llama"], "rope": {"factor": 2.0, "type": "linear"},
           "a/b": 1, "drop": True, "ints": 1}
    new = {"hidden_size": 1024, "architectures": ["Llama", "Extra"], "rope": {"factor": 4.0},
           "a/b": 2, "added": {"x": None}, "ints": 1.0}
    log_dir(project, {"config.json": json.dumps(old).encode(), "tokenizer_config.json": b'{"x": 1}'})
    log_dir(project, {"config.json": json.dumps(new).encode(), "tokenizer_config.json": b'{"x": 1}'})
    d = mvc.Api().diff("M:v0", "M:v1")
    j = file_of(d, "config.json")["json"]
    changed = {c["path"]: (c["old"], c["new"]) for c in j["changed"]}
    assert changed == {"/hidden_size": (768, 1024), "/rope/factor": (2.0, 4.0), "/a~1b": (1, 2), "/ints": (1, 1.0)}
    assert {c["path"]: c["value"] for c in j["added"]} == {"/architectures/1": "Extra", "/added": {"x": None}}
    assert {c["path"]: c["value"] for c in j["removed"]} == {"/rope/type": "linear", "/drop": True}
    assert j["truncated"] is False
    assert d["summary"]["json_keys_changed"] == 8 and d["summary"]["files_unchanged"] == 1


def test_invalid_json_is_compared_by_chunks_with_a_note(project):
    log_dir(project, {"config.json": b'{"a": 1}'})
    log_dir(project, {"config.json": b'{"a": '})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "config.json")
    assert f["json"] is None and "not valid JSON" in f["note"]


# ---- addresses ---------------------------------------------------------------

def test_addresses_alias_digest_registry_and_other_artifact(project):
    v0 = log_dir(project, {"c.json": b'{"v": 0}'}, aliases=["best"])
    v1 = log_dir(project, {"c.json": b'{"v": 1}'})
    v1.link("registry/prod", aliases=["production"])
    other = log_dir(project, {"c.json": b'{"v": 2}'}, name="Other")
    api = mvc.Api()
    d = api.diff("M:best", "registry/prod:production")
    assert d["a"]["version"] == "v0" and d["b"]["address"] == "proj/M:v1" and d["b"]["via_link"] == "registry/prod:v0"
    assert file_of(d, "c.json")["json"]["changed"][0]["new"] == 1
    d = api.diff(f"M@{v0.digest[:10]}", "Other")
    assert d["a"]["address"] == "proj/M:v0" and d["b"]["address"] == "proj/Other:v0"
    assert file_of(d, "c.json")["json"]["changed"][0]["new"] == 2
    assert other.version == "v0"
    with pytest.raises(NotFoundError):
        api.diff("M:v0", "M:v9")


@pytest.fixture(params=["kernel", "numpy"])
def values_path(request, monkeypatch):
    """Each numeric test twice: through the compiled kernel, and through numpy alone (an install
    without a C compiler)."""
    import mvc.repo.diff_values as values
    if request.param == "kernel":
        assert values._kernel() is not None, "mvc/repo/_diffkernel.c was not built: is there a C compiler?"
    else:
        monkeypatch.setattr(values, "_KERNEL", None)
    return request.param


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16", "I8"])
def test_large_tensor_streamed_in_blocks_matches_numpy(project, dtype, values_path):
    """A tensor of several blocks (of the path in use) where most blocks are unchanged: the
    per-block sums add up to the whole-array figures."""
    block = block_elements(dtype)
    n = 3 * block + 123
    rng = np.random.default_rng(11)
    a = rng.integers(-100, 100, n) if dtype == "I8" else rng.standard_normal(n).astype(np.float32)
    b = a.copy()
    b[block + 5] += 7
    b[-1] -= 3
    log_dir(project, {"m.safetensors": _st({"t": (dtype, a)})})
    log_dir(project, {"m.safetensors": _st({"t": (dtype, b)})})
    [ch] = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")["tensors"]["changed"]
    assert_matches_numpy(ch, dtype, tensor_bytes(dtype, a), tensor_bytes(dtype, b))


@pytest.mark.parametrize("dtype", ["F16", "BF16", "F32", "I16"])
def test_every_element_changed_across_blocks_matches_numpy(project, dtype, values_path):
    """A fine-tune: noise on every element of a tensor of several full blocks and a partial one,
    in a file over 1 MiB (its tensor is a chunk file of its own, read as it is hashed): every
    block takes the both-sides-at-once path, and the sums still agree with numpy to 1e-9."""
    block = block_elements(dtype)
    n = ((1 << 20) // (4 if dtype == "F32" else 2) // block + 1) * block + 77
    rng = np.random.default_rng(5)
    if dtype == "I16":
        a = rng.integers(-3000, 3000, n)
        b = a + rng.integers(-3, 4, n)
    else:
        a = (rng.standard_normal(n) * 0.02).astype(np.float32)
        b = a + (rng.standard_normal(n) * 1e-3).astype(np.float32)
    raw_a, raw_b = tensor_bytes(dtype, a), tensor_bytes(dtype, b)
    assert len(raw_a) > 1 << 20
    log_dir(project, {"m.safetensors": _st({"t": (dtype, a)})})
    log_dir(project, {"m.safetensors": _st({"t": (dtype, b)})})
    [ch] = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")["tensors"]["changed"]
    assert_matches_numpy(ch, dtype, raw_a, raw_b)


def block_elements(dtype: str) -> int:
    """Elements per side per step of the diff, on the path in use (kernel or numpy)."""
    from mvc.repo.diff_values import ITEMSIZE, Change
    return Change(dtype).block // ITEMSIZE[dtype]


def assert_matches_numpy(ch: dict, dtype: str, raw_a: bytes, raw_b: bytes) -> None:
    """The diff's figures for one changed tensor agree with numpy's on the raw bytes, to 1e-9."""
    width = {"F32": "<f4", "F16": "<f2", "I8": "i1", "I16": "<i2", "BF16": "<u2"}[dtype]
    va, vb = np.frombuffer(raw_a, width), np.frombuffer(raw_b, width)
    if dtype == "BF16":
        va, vb = (va.astype(np.uint32) << 16).view(np.float32), (vb.astype(np.uint32) << 16).view(np.float32)
    for k, v in reference_stats(va, vb).items():
        assert math.isclose(ch[k], v, rel_tol=1e-9, abs_tol=1e-12), (k, ch[k], v)
    assert ch["bytes_changed"] == int(np.count_nonzero(np.frombuffer(raw_a, np.uint8) != np.frombuffer(raw_b, np.uint8)))


def test_references_compare_by_digest_with_a_note(project):
    target = project / "outside.bin"
    for content in (b"one", b"two!"):
        target.write_bytes(content)
        with mvc.init(project="proj") as run:
            run.log_model(target.as_uri(), name="R")
    d = mvc.Api().diff("R:v0", "R:v1")
    [f] = d["files"]
    assert f["status"] == "changed" and (f["old_size"], f["new_size"]) == (3, 4)
    assert "reference" in f["note"] and f["tensors"] is None and f["shared_bytes"] is None
    assert d["summary"]["bytes_read"] == 0
