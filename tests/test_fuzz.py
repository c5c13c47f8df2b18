"""Fuzzing the parsers that meet untrusted input: pointer blobs, manifests (and
materialise into a real folder), addresses.  Each either accepts or raises a typed
MvcError; never another exception, never a byte written outside the target."""
from __future__ import annotations

import os
import shutil
import tempfile

import format2_ref
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mvc import canonical
from mvc.errors import IntegrityError, InvalidInputError, InvalidNameError, MvcError
from mvc.names import parse_address
from mvc.store import MemoryChunkStore, Pointer
from mvc.store.materialise import materialise
from mvc.store.materialise import check_manifest, check_relpath
from conftest import snapshot_tree

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- pointers -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
hexes = st.text("0123456789abcdef", min_size=30, max_size=34)
chunk_entries = st.lists(st.one_of(st.tuples(hexes, st.integers(-3, 10**6)).map(list), json_values), max_size=5)
pointer_like = st.fixed_dictionaries({}, optional={
    "v": st.one_of(st.integers(-1, 3), st.booleans(), st.text(max_size=3)),
    "size": st.one_of(st.integers(-5, 10**7), st.floats(allow_nan=False, allow_infinity=False), st.booleans()),
    "digest": st.one_of(st.just("blake3:" + "a" * 64), st.text(max_size=80), st.integers()),
    "chunks": st.one_of(chunk_entries, json_values),
    "exec": json_values, "ref": st.one_of(st.text(max_size=30), json_values), "extra": json_values})


def _decode_or_typed(data: bytes):
    try:
        return Pointer.decode(data, "fuzzed pointer")
    except MvcError as e:
        assert e.message and "fuzzed pointer" in e.message
        return None


@FUZZ
@given(st.binary(max_size=300))
@example(b"[" * 100_000)                       # deeper than the interpreter's stack
@example(b'{"v":1,"size":' + b"9" * 5000 + b"}")
@example(b"\xff\xfe{}")
def test_pointer_decode_bytes(data):
    _decode_or_typed(data)


@FUZZ
@given(pointer_like)
def test_pointer_decode_structures(d):
    ptr = _decode_or_typed(canonical.dumps(d))
    if ptr is not None:                        # accepted: a sound pointer that round-trips
        assert ptr.size >= 0 and (ptr.is_reference or sum(n for _, n in ptr.chunks) == ptr.size)
        again = Pointer.decode(ptr.encode())
        assert again == ptr and again.extra == ptr.extra


# ---- manifests --------------------------------------------------------------------------------

PARTS = ["a", "A", "b", "..", ".", "", "x.bin", "C:", "c:x", "\\", "..\\..", "\x00", "/", "//srv", "é", "~",
         "sentinel", "..%2f", " ", "a b"]
relpaths = st.one_of(st.lists(st.sampled_from(PARTS), min_size=1, max_size=4).map("/".join),
                     st.text(max_size=12))


def _inside(root: str, rel: str) -> bool:
    full = os.path.normpath(os.path.join(root, *rel.split("/")))
    return full.startswith(root + os.sep)


@FUZZ
@given(relpaths)
def test_check_relpath(rel):
    try:
        assert check_relpath(rel) == rel
    except IntegrityError as e:
        assert "manifest path" in e.message and e.hint
        return
    assert _inside("/r/t", rel) and "\\" not in rel and "\x00" not in rel


@FUZZ
@given(st.lists(relpaths, max_size=6))
def test_check_manifest(paths):
    try:
        check_manifest(paths)
    except IntegrityError:
        return
    assert len({p.lower() for p in paths}) == len(paths)
    assert all(_inside("/r/t", p) for p in paths)




STORE = MemoryChunkStore()


def _ptr(data: bytes, damaged: bool) -> Pointer:
    cid, _ = STORE.put(data)
    digest = format2_ref.whole(data + (b"!" if damaged else b""))
    return Pointer(size=len(data), digest=digest, chunks=((cid, len(data)),))


@FUZZ
@given(st.lists(st.tuples(relpaths, st.binary(max_size=64), st.booleans()), min_size=1, max_size=5),
       st.sampled_from(["absent", "folder", "file"]))
def test_materialise_random_entries(rows, existing):
    base = tempfile.mkdtemp(prefix="mvc-fuzz-")
    try:
        os.makedirs(os.path.join(base, "sentinel", "sub"))
        open(os.path.join(base, "sentinel", "keep"), "w").write("keep")
        target = os.path.join(base, "w", "a", "target")
        os.makedirs(os.path.dirname(target))
        if existing == "folder":
            os.makedirs(target)
            open(os.path.join(target, "old"), "w").write("old")
        elif existing == "file":
            open(target, "w").write("file")
        entries = [(p, _ptr(data, damaged)) for p, data, damaged in rows]
        outside = {k: v for k, v in snapshot_tree(base, meta=False).items() if not k.startswith("w/a/target")}
        inside = {k: v for k, v in snapshot_tree(base, meta=False).items() if k.startswith("w/a/target")}
        try:
            materialise(STORE, entries, target, "fuzz:v0")
            ok = True
        except (IntegrityError, InvalidInputError) as e:
            assert e.hint
            ok = False
        after = snapshot_tree(base, meta=False)
        assert {k: v for k, v in after.items() if not k.startswith("w/a/target")} == outside
        if ok:                                 # the manifest, whole, plus what was there before
            files = {k for k, v in after.items() if k.startswith("w/a/target/") and v is not None
                     and not v.startswith("link:")}
            wrote = {"w/a/target/" + p for p, _, _ in rows}
            kept = {k for k, v in inside.items() if k != "w/a/target" and v is not None and k not in wrote}
            assert files == wrote | kept
            assert all(after[k] == inside[k] for k in kept)   # nothing mvc did not write was touched
        else:                                  # refused or failed: the target is as it was
            assert {k: v for k, v in after.items() if k.startswith("w/a/target")} == inside
    finally:
        shutil.rmtree(base)


# ---- addresses ----------------------------------------------------------------------------------

ADDR_PARTS = ["M", "mnist", "registry", "p", "e", "v3", "v", "best", "latest", "@", ":", "/", "deadbeef0",
              "..", " ", "é", "-x", "v01", "\x00", "a" * 130]
addresses = st.one_of(st.text(max_size=40), st.lists(st.sampled_from(ADDR_PARTS), max_size=7).map("".join))


@FUZZ
@given(addresses)
def test_parse_address(text):
    try:
        a = parse_address(text)
    except InvalidNameError as e:
        assert e.message and e.hint is not None
        return
    assert a.name and "/" not in a.name and ":" not in a.name
    assert not (a.version and a.alias)


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.binary(max_size=8), st.lists(st.text(max_size=3), max_size=2)))
def test_parse_address_non_strings(value):
    try:
        parse_address(value)
    except MvcError:
        return
    raise AssertionError(f"parse_address accepted {value!r}")
