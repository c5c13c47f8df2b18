"""An audit of `mvc diff` / `Api().diff` as a new user meets it (issue 14): each test here
failed before the fix it came with."""
from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
from click.testing import CliRunner

import mvc
from diff_kit import gguf, safetensors, tensor_bytes
from mvc.cli import cli
from mvc.errors import InvalidInputError, UsageError
from test_diff import file_of, log_dir


# ---- JSON files are not taken for safetensors -----------------------------------------

@pytest.mark.parametrize("old, new", [
    (b'{"abc": {"x": 1}, "n": 1}', b'{"abc": {"x": 2}, "n": 1}'),   # 9th byte '{', as a safetensors header
    (b'{"cfgs":{"lr":0.1}}', b'{"cfgs":{"lr":0.2}}'),
])
def test_a_json_file_whose_ninth_byte_is_a_brace_gets_its_key_diff(project, old, new):
    log_dir(project, {"config.json": old})
    log_dir(project, {"config.json": new})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "config.json")
    assert f["format"] == "json" and f["note"] is None, f
    assert [c["path"] for c in f["json"]["changed"]] in (["/abc/x"], ["/cfgs/lr"])


def test_content_sniffing_wants_a_header_length_that_fits_the_file(project):
    """A file without the .safetensors name is taken for one only when its first 8 bytes are a
    length that fits: a text file whose 9th byte is '{' is no tensor file."""
    log_dir(project, {"notes.txt": b'12345678{"a": 1} old'})
    log_dir(project, {"notes.txt": b'12345678{"a": 1} new'})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "notes.txt")
    assert f["format"] is None and f["note"] is None, f
    st = safetensors({"w": ("F32", (2,), tensor_bytes("F32", [1, 2]))})
    st2 = safetensors({"w": ("F32", (2,), tensor_bytes("F32", [1, 3]))})
    log_dir(project, {"weights.bin": st}, name="N")
    log_dir(project, {"weights.bin": st2}, name="N")
    f = file_of(mvc.Api().diff("N:v0", "N:v1"), "weights.bin")
    assert f["format"] == "safetensors" and f["tensors"]["changed"][0]["bytes_changed"] > 0


# ---- hostile headers: overlapping tensors, a quadratic GGUF ----------------------------

def st_overlapping(n: int, size: int, fill: int) -> bytes:
    header = {f"t{i}": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]} for i in range(n)}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + bytes([fill]) * size


def test_overlapping_safetensors_tensors_are_not_read_again_and_again(project):
    """200 tensors over the same 64 KiB: reading each would compare 200x the file; the index is
    refused instead (safetensors' own loader refuses it too) and the file compared by chunks."""
    log_dir(project, {"m.safetensors": st_overlapping(200, 64 << 10, 0)})
    log_dir(project, {"m.safetensors": st_overlapping(200, 64 << 10, 1)})
    seen = []
    d = mvc.Api().diff("M:v0", "M:v1", progress=seen.append)
    f = file_of(d, "m.safetensors")
    assert f["tensors"] is None and "overlap" in f["note"], f["note"]
    assert sum(seen) == 0


def test_overlapping_gguf_tensors_are_refused(project):
    good = gguf({"a": ("F32", (4,), np.ones(4, np.float32).tobytes()),
                 "b": ("F32", (4,), np.ones(4, np.float32).tobytes())})
    info_b = struct.pack("<Q", 1) + b"b" + struct.pack("<IQI", 1, 4, 0)   # name, 1 dim of 4, F32
    at = good.index(info_b) + len(info_b)                                  # b's data offset follows
    raw = bytearray(good)
    assert struct.unpack_from("<Q", raw, at)[0] == 32
    struct.pack_into("<Q", raw, at, 0)                                     # b now starts where a does
    log_dir(project, {"m.gguf": good})
    log_dir(project, {"m.gguf": bytes(raw)})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.gguf")
    assert f["tensors"] is None and "overlap" in f["note"], f["note"]


def test_zero_length_tensors_do_not_count_as_overlapping(project):
    t = {"e": ("F32", (0,), b""), "w": ("F32", (2,), tensor_bytes("F32", [1, 2])), "z": ("F32", (0, 3), b"")}
    log_dir(project, {"m.safetensors": safetensors(t)})
    t["w"] = ("F32", (2,), tensor_bytes("F32", [1, 5]))
    log_dir(project, {"m.safetensors": safetensors(t)})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")
    assert f["note"] is None and [c["name"] for c in f["tensors"]["changed"]] == ["w"]


def test_many_gguf_tensors_of_unknown_type_index_in_linear_time():
    """Each tensor of a ggml type mvc does not know ends where the next begins: found by bisection,
    not by a scan of every offset per tensor (quadratic: 40,000 tensors took ~30 s, 2^20 hours)."""
    from mvc.repo.diff_tensors import _gg_tensors
    n = 200_000
    infos = [(f"t{i}", (1,), 99, i) for i in range(n)]
    start = time.monotonic()
    tensors = _gg_tensors(infos, 64, n + 1)
    assert time.monotonic() - start < 5       # ~0.3 s; the scan would take hours
    assert (tensors["t7"].start, tensors["t7"].end) == (64 + 7, 64 + 8)
    assert tensors[f"t{n - 1}"].end == 64 + n + 1 and tensors["t0"].dtype == "GGML_TYPE_99"


def test_a_gguf_tensor_of_unknown_type_past_the_data_is_refused(project):
    infos = struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 1, 99, 1 << 40)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 0) + infos
    bad = head + b"\0" * (-len(head) % 32) + b"\0" * 64
    log_dir(project, {"m.gguf": gguf({"t": ("F32", (4,), np.ones(4, np.float32).tobytes())})})
    log_dir(project, {"m.gguf": bad})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.gguf")
    assert f["tensors"] is None and "runs past the data" in f["note"], f["note"]


# ---- Python: what a W&B user passes ---------------------------------------------------

def _two_models(project):
    log_dir(project, {"m.safetensors": safetensors({"w": ("F32", (2,), tensor_bytes("F32", [1, 2]))})})
    log_dir(project, {"m.safetensors": safetensors({"w": ("F32", (2,), tensor_bytes("F32", [1, 3]))})})


def test_diff_takes_artifacts_as_wandb_code_holds_them(project):
    _two_models(project)
    api = mvc.Api()
    a, b = api.artifact("M:v0"), api.artifact("M:v1")
    d = api.diff(a, b)
    assert d["a"]["version"] == "v0" and d["b"]["version"] == "v1" and d["summary"]["tensors_changed"] == 1
    assert api.diff(a, "M:v1")["files"] == d["files"]


def test_diff_through_a_registry_link_object_keeps_via_link(project):
    _two_models(project)
    api = mvc.Api()
    api.artifact("M:v1").link("registry/prod")
    linked = api.artifact("registry/prod:v0")
    d = api.diff("M:v0", linked)
    assert d["b"]["via_link"] == "registry/prod:v0" and d["b"]["version"] == "v1"


@pytest.mark.parametrize("bad, said", [(None, "NoneType"), (3, "int"), (b"M:v0", "bytes")])
def test_an_address_of_the_wrong_type_is_named_as_such(project, bad, said):
    _two_models(project)
    with pytest.raises(InvalidInputError) as e:
        mvc.Api().diff(bad, "M:v1")
    assert said in e.value.message and "empty" not in e.value.message and e.value.hint


def test_a_draft_artifact_cannot_be_diffed(project):
    _two_models(project)
    draft = mvc.Artifact("M", "model")
    with pytest.raises(UsageError) as e:
        mvc.Api().diff(draft, "M:v1")
    assert "draft" in e.value.message and e.value.hint


# ---- the CLI: git's A..B --------------------------------------------------------------

def test_git_range_form_is_explained(project):
    _two_models(project)
    res = CliRunner().invoke(cli, ["diff", "M:v0..M:v1"])
    assert res.exit_code == 2
    assert "two addresses" in res.output and "mvc diff M:v0 M:v1" in res.output, res.output
    res = CliRunner().invoke(cli, ["diff", "M:v0..v1"])
    assert res.exit_code == 2 and "`mvc diff M:v0 M:v1`" in res.output, res.output
    res = CliRunner().invoke(cli, ["diff", "M:v0"])
    assert res.exit_code == 2 and "two addresses" in res.output, res.output


# ---- a GGUF vocabulary costs a few reads, not two per string ----------------------------

def gguf_with_vocab(n_tokens: int, fill: float) -> bytes:
    def s(b: bytes) -> bytes:
        return struct.pack("<Q", len(b)) + b
    toks = b"".join(s(f"tok{i}".encode()) for i in range(n_tokens))
    kv = [s(b"general.architecture") + struct.pack("<I", 8) + s(b"llama"),
          s(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, n_tokens) + toks,
          s(b"tokenizer.ggml.token_type") + struct.pack("<IIQ", 9, 5, n_tokens) + b"\1\0\0\0" * n_tokens]
    head = (b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv)
            + s(b"w") + struct.pack("<IQIQ", 1, 256, 0, 0))
    head += b"\0" * (-len(head) % 32)
    return head + np.full(256, fill, np.float32).tobytes()


def test_a_gguf_vocabulary_is_read_through_a_window(project, monkeypatch):
    """A llama-3 GGUF header lists 128,000 tokens and 280,000 merges: two reads of the stored file
    per string (each a chunk lookup, a copy and an madvise) took 5 s per diff of such files."""
    from mvc.repo import diff_read
    log_dir(project, {"m.gguf": gguf_with_vocab(50_000, 1.0)})
    log_dir(project, {"m.gguf": gguf_with_vocab(50_000, 2.0)})
    calls = []
    real_read = diff_read.StoredFile.read
    monkeypatch.setattr(diff_read.StoredFile, "read", lambda self, start, n: calls.append(n) or real_read(self, start, n))
    d = mvc.Api().diff("M:v0", "M:v1")
    f = file_of(d, "m.gguf")
    assert f["note"] is None and [t["name"] for t in f["tensors"]["changed"]] == ["w"]
    assert f["tensors"]["changed"][0]["max_abs_delta"] == 1.0
    assert len(calls) < 100, len(calls)


@pytest.mark.parametrize("body, why", [
    (struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 3) + struct.pack("<Q", 2) + b"ab"
     + struct.pack("<Q", 1 << 40), "runs past"),                         # third string's length
    (struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 1 << 62) + struct.pack("<Q", 0) * 4, "runs past"),
])
def test_a_hostile_gguf_string_array_still_falls_back_to_chunks(project, body, why):
    good = gguf({"t": ("F32", (4,), np.ones(4, np.float32).tobytes())})
    log_dir(project, {"m.gguf": good})
    log_dir(project, {"m.gguf": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + body})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.gguf")
    assert f["tensors"] is None and why in f["note"], f["note"]


# ---- no NaN or Infinity in the result, wherever they come from ----------------------------

def strict(d: dict) -> dict:
    """``d`` as strict JSON reads it back (json.dumps(allow_nan=False) refuses NaN and Infinity)."""
    return json.loads(json.dumps(d, allow_nan=False))


def test_a_json_number_too_large_for_a_double_stays_valid_json(project):
    log_dir(project, {"c.json": b'{"x": 1, "big": 1e400}'})
    log_dir(project, {"c.json": b'{"x": 1e400, "big": 1e401, "y": -2e999}'})
    d = mvc.Api().diff("M:v0", "M:v1")
    j = strict(d)["files"][0]["json"]
    assert {c["path"]: (c["old"], c["new"]) for c in j["changed"]} == {"/x": (1, "1e400"), "/big": ("1e400", "1e401")}
    assert j["added"] == [{"path": "/y", "value": "-2e999", "elided": False}]
    out = CliRunner().invoke(cli, ["diff", "M:v0", "M:v1", "--json"]).output
    json.loads(out, parse_constant=lambda c: pytest.fail(f"--json printed {c}"))


def test_nan_in_safetensors_metadata_is_a_string_and_equal_to_itself(project):
    st = b'{"__metadata__": {"x": NaN, "s": "1"}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    st2 = st.replace(b'"1"', b'"2"')
    log_dir(project, {"m.safetensors": struct.pack("<Q", len(st)) + st + b"\0\0\0\0"})
    log_dir(project, {"m.safetensors": struct.pack("<Q", len(st2)) + st2 + b"\0\0\0\1"})
    f = strict(mvc.Api().diff("M:v0", "M:v1"))["files"][0]
    assert f["note"] is None and [c["path"] for c in f["metadata"]["changed"]] == ["/s"], f["metadata"]


def gguf_with_float_kv(value: float, extra: str) -> bytes:
    kv = (struct.pack("<Q", 7) + b"general" + struct.pack("<If", 6, value)
          + struct.pack("<Q", 1) + b"e" + struct.pack("<I", 8) + struct.pack("<Q", len(extra)) + extra.encode())
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 2) + kv
    return head + b"\0" * (-len(head) % 32)


def test_nan_and_infinity_in_gguf_metadata_are_strings(project):
    log_dir(project, {"m.gguf": gguf_with_float_kv(float("nan"), "a")})
    log_dir(project, {"m.gguf": gguf_with_float_kv(float("nan"), "b")})
    f = strict(mvc.Api().diff("M:v0", "M:v1"))["files"][0]
    assert [c["path"] for c in f["metadata"]["changed"]] == ["/e"], f["metadata"]   # NaN equals NaN here
    log_dir(project, {"m.gguf": gguf_with_float_kv(float("-inf"), "b")})
    f = strict(mvc.Api().diff("M:v1", "M:v2"))["files"][0]
    assert f["metadata"]["changed"] == [{"path": "/general", "old": "NaN", "new": "-Infinity", "elided": False}]


def test_a_path_on_disk_gets_a_hint_to_log_it_first(project):
    """`mvc diff ./model ./model-ft`, as git diff --no-index: the error ('project '.' starts with
    '.'') said nothing of what to do; the hint says diff compares stored versions and how."""
    _two_models(project)                     # leaves the folder ./src-M
    res = CliRunner().invoke(cli, ["diff", "M:v0", "./src-M"])
    assert res.exit_code == 2
    assert "'./src-M' is a folder here" in res.output and "`mvc log ./src-M`" in res.output, res.output
    assert "`mvc diff src-M:v0 src-M:v1`" in res.output
    (project / "M").write_text("a file named as the artifact")
    res = CliRunner().invoke(cli, ["diff", "M", "M:v9"])   # M names a version: the error is v9's
    assert res.exit_code == 3 and "is a file here" not in res.output and "mvc ls M" in res.output, res.output


def test_a_file_whose_header_metadata_alone_changed_says_so(project):
    """--stat said 'tensors: none changed (1 unchanged)' for a safetensors file whose __metadata__
    changed; the table's detail, the stat line and the ui's 'what changed' now count its keys."""
    from mvc.ui import views
    t = {"w": ("F32", (4,), tensor_bytes("F32", [1, 2, 3, 4]))}
    log_dir(project, {"m.safetensors": safetensors(t, {"step": "1", "lr": "0.1"})})
    log_dir(project, {"m.safetensors": safetensors(t, {"step": "2"})})
    said = "tensors: none changed (1 unchanged), 2 metadata keys changed"
    res = CliRunner().invoke(cli, ["diff", "M:v0", "M:v1", "--stat"])
    assert res.exit_code == 0 and f" m.safetensors | {said}\n" in res.output, res.output
    assert said in CliRunner().invoke(cli, ["diff", "M:v0", "M:v1"]).output
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "m.safetensors")
    assert views.file_change(f)["what"] == said
    assert res.output.endswith(" 1 file changed, 2 metadata keys changed\n"), res.output
    assert mvc.Api().diff("M:v0", "M:v1")["summary"]["metadata_keys_changed"] == 2


def test_stat_of_two_identical_versions_prints_nothing(project):
    """As git diff --stat: no ' 0 files changed' line when nothing changed."""
    log_dir(project, {"c.json": b'{"a": 1}'})
    log_dir(project, {"c.json": b'{"a": 1}'}, name="N")
    res = CliRunner().invoke(cli, ["diff", "M:v0", "N:v0", "--stat"])
    assert res.exit_code == 0 and res.output == "", res.output
    assert "no changes" in CliRunner().invoke(cli, ["diff", "M:v0", "N:v0"]).output


def test_json_nested_too_deeply_is_not_called_invalid(project):
    log_dir(project, {"c.json": b'{"a":' * 5000 + b"1" + b"}" * 5000})
    log_dir(project, {"c.json": b'{"a":' * 5000 + b"2" + b"}" * 5000})
    f = file_of(mvc.Api().diff("M:v0", "M:v1"), "c.json")
    assert f["json"] is None and f["note"] == "JSON nested too deeply to compare key by key: compared by chunks only"
