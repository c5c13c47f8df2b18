"""mvc diff over hostile stored headers: never a crash, never an unbounded allocation; the file
is compared by its chunk lists and ``note`` says why (issue 14)."""
from __future__ import annotations

import json
import resource
import struct

import numpy as np
import pytest

import mvc
from diff_kit import gguf, safetensors, tensor_bytes
from test_diff import file_of, log_dir

GOOD = safetensors({"w": ("F32", (4,), tensor_bytes("F32", [1, 2, 3, 4]))})


def st_raw(header, data: bytes = b"\0" * 16, length: int | None = None) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def diff_against_good(project, bad: bytes, path="m.safetensors") -> dict:
    log_dir(project, {path: GOOD})
    log_dir(project, {path: bad})
    return file_of(mvc.Api().diff("M:v0", "M:v1"), path)


@pytest.mark.parametrize("bad, why", [
    (st_raw({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 10 ** 12]}}), "do not fit"),
    (st_raw({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 4]}}), "do not fit"),
    (st_raw({"w": {"dtype": "F32", "shape": [4], "data_offsets": [-4, 12]}}), "do not fit"),
    (st_raw({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}), "needs 16 bytes"),
    (st_raw({"w": {"dtype": "F32", "shape": [10 ** 30], "data_offsets": [0, 16]}}), "needs"),
    (st_raw({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 16]}}), "shape"),
    (st_raw({"w": {"dtype": "F32", "shape": [1] * 10_000, "data_offsets": [0, 4]}}), "shape"),
    (st_raw({"w": {"dtype": ["F32"], "shape": [4], "data_offsets": [0, 16]}}), "dtype"),
    (st_raw({"w": "nope"}), "not an object"),
    (st_raw([1, 2, 3]), "not a JSON object"),
    (st_raw(b"{not json"), "not JSON"),
    (st_raw(b"\xff\xfe{}"), "not JSON"),
    (st_raw(b"[" * 200_000 + b"]" * 200_000), "does not parse"),
    (st_raw(b"{}", length=(1 << 63) + 5), "claims"),
    (st_raw(b"{}", length=15 << 20), "the file has"),      # under the cap, past the end of the file
    (st_raw(b"{}", length=200 << 20), "over the 16 MiB"),   # over the cap: never read
    (b"\x01\x02", "does not parse"),                         # too short for the length field
])
def test_hostile_safetensors_header_falls_back_to_chunks(project, bad, why):
    f = diff_against_good(project, bad)
    assert f["status"] == "changed" and f["format"] == "safetensors" and f["tensors"] is None
    assert f["note"].startswith("tensor index unreadable") and why in f["note"], f["note"]
    assert f["shared_bytes"] == 0


def gguf_raw(n_tensors: int, n_kv: int, body: bytes) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + body


GOOD_GGUF = gguf({"t": ("F32", (4,), np.ones(4, np.float32).tobytes())})


@pytest.mark.parametrize("bad, why", [
    (gguf_raw(1 << 40, 0, b""), "at most 2^20"),
    (gguf_raw(0, 1, struct.pack("<Q", 1 << 62)), "runs past"),                       # key length
    (gguf_raw(0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77)), "unknown GGUF value type"),
    (gguf_raw(0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 4, 1 << 60)), "runs past"),  # array
    (gguf_raw(0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 9, 2)), "array of value type 9"),
    (gguf_raw(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<I", 1000)), "dimensions"),
    (gguf_raw(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 4, 0, 1 << 50) + b"\0" * 64),
     "runs past the data"),
    (gguf_raw(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 33, 2, 0) + b"\0" * 64),
     "whole Q4_0 blocks"),
    (b"GGUF" + struct.pack("<I", 99) + b"\0" * 16, "version 99"),
    (b"GGUF\x03\x00", "does not parse"),
])
def test_hostile_gguf_header_falls_back_to_chunks(project, bad, why):
    log_dir(project, {"m.gguf": GOOD_GGUF})
    log_dir(project, {"m.gguf": bad})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.gguf")
    assert f["format"] == "gguf" and f["tensors"] is None and why in f["note"], f["note"]


def test_unknown_dtype_compares_as_bytes(project):
    hdr = {"w": {"dtype": "F4_WEIRD", "shape": [4], "data_offsets": [0, 16]}}
    log_dir(project, {"m.safetensors": st_raw(hdr, b"\0" * 16)})
    log_dir(project, {"m.safetensors": st_raw(hdr, b"\0" * 15 + b"\1")})
    [ch] = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")["tensors"]["changed"]
    assert ch["bytes_changed"] == 1 and ch["max_abs_delta"] is None and ch["old_dtype"] == "F4_WEIRD"


def test_nan_and_infinity_give_null_not_invalid_json(project):
    log_dir(project, {"m.safetensors": safetensors({"w": ("F32", (3,), tensor_bytes("F32", [1, 2, 3]))}),
                      "c.json": b'{"x": 1}'})
    log_dir(project, {"m.safetensors": safetensors({"w": ("F32", (3,), tensor_bytes("F32", [1, np.nan, 3]))}),
                      "c.json": b'{"x": NaN, "y": -Infinity}'})
    d = mvc.Api().diff("M:v0", "M:v1")
    [ch] = file_of(d, "m.safetensors")["tensors"]["changed"]
    assert ch["max_abs_delta"] is None and ch["rel_l2"] is None and ch["bytes_changed"] > 0
    j = file_of(d, "c.json")["json"]
    assert j["changed"][0]["new"] == "NaN" and j["added"][0]["value"] == "-Infinity"
    json.dumps(d, allow_nan=False)  # strict JSON: no NaN or Infinity anywhere


def test_json_changes_are_capped_and_big_values_elided(project):
    old = {f"k{i}": i for i in range(3000)}
    new = {f"k{i}": i + 1 for i in range(3000)}
    new["big"] = "x" * 10_000
    log_dir(project, {"t.json": json.dumps(old).encode()})
    log_dir(project, {"t.json": json.dumps(new).encode()})
    j = file_of(mvc.Api().diff("M:v0", "M:v1"), "t.json")["json"]
    assert j["truncated"] is True and len(j["changed"]) + len(j["added"]) == 1000
    log_dir(project, {"t.json": b'{"small": 1}'}, name="N")
    log_dir(project, {"t.json": json.dumps({"small": 1, "big": "y" * 10_000}).encode()}, name="N")
    j = file_of(mvc.Api().diff("N:v0", "N:v1"), "t.json")["json"]
    assert j["added"] == [{"path": "/big", "value": None, "elided": True}]


def test_huge_header_claim_is_not_allocated(project):
    """A header claiming 200 MiB in a 2 MiB file costs no 200 MiB (peak RSS grows < 64 MiB)."""
    bad = st_raw(b"{}", data=b"\0" * (2 << 20), length=200 << 20)
    log_dir(project, {"m.safetensors": GOOD})
    log_dir(project, {"m.safetensors": bad})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "over the 16 MiB" in f["note"] and grown_mib < 64


def test_a_chunk_over_the_limit_is_never_loaded(project):
    """A 33 MiB safetensors header is one 33 MiB chunk (the chunker keeps a header whole): the diff
    compares that file by chunk lists and reads none of it."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    big = st_raw(header + b" " * (33 << 20), b"\0" * 16)
    f = diff_against_good(project, big)
    assert f["tensors"] is None and "over the 32 MiB a diff holds in memory" in f["note"], f["note"]
    d = mvc.Api().diff("M:v0", "M:v1")
    assert d["summary"]["bytes_read"] == len(GOOD)  # the old file's one chunk, nothing of the new one
