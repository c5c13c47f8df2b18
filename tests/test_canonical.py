"""Canonical JSON and pointer encoding: golden vectors pin the exact bytes."""
from __future__ import annotations

import math

import pytest

from mvc import canonical
from mvc.errors import FormatError, IntegrityError, InvalidInputError
from mvc.store.pointer import Pointer

D = "blake3:" + "ab" * 32
C1, C2 = "0" * 64, "f" * 64


@pytest.mark.parametrize("obj,golden", [
    ({}, b"{}\n"),
    ({"b": 1, "a": 2}, b'{"a":2,"b":1}\n'),
    ({"z": {"y": [1, 2, {"b": None, "a": True}]}, "a": "x"}, b'{"a":"x","z":{"y":[1,2,{"a":true,"b":null}]}}\n'),
    ({"name": "modèle ü 模型", "emoji": "\U0001F600"},
     '{"emoji":"\U0001F600","name":"modèle ü 模型"}\n'.encode("utf-8")),
    ({"f": 0.1, "g": 1.0, "h": 1e-7, "i": 1e21, "j": -0.0, "k": 3}, b'{"f":0.1,"g":1.0,"h":1e-07,"i":1e+21,"j":-0.0,"k":3}\n'),
    ([1, "two", [3]], b'[1,"two",[3]]\n'),
    ({"q": 'say "hi"\n\\'}, b'{"q":"say \\"hi\\"\\n\\\\"}\n'),
])
def test_canonical_golden(obj, golden):
    assert canonical.dumps(obj) == golden
    assert canonical.loads(golden) == obj


def test_canonical_refuses_nan():
    with pytest.raises(ValueError):
        canonical.dumps({"x": float("nan")})


def test_clean_json_nan_and_inf():
    assert canonical.clean_json({"a": float("nan"), "b": [1.5, float("nan")]}) == {"a": None, "b": [1.5, None]}
    with pytest.raises(InvalidInputError, match="infinite"):
        canonical.clean_json({"a": {"b": math.inf}})
    with pytest.raises(InvalidInputError, match="set"):
        canonical.clean_json({"a": {1, 2}})


GOLDEN_CHUNKED = (b'{"chunks":[["' + C1.encode() + b'",3],["' + C2.encode() + b'",4]],"digest":"' + D.encode()
                  + b'","exec":false,"size":7,"v":1}\n')
GOLDEN_REF = b'{"digest":"' + D.encode() + b'","ref":"file:///data/x.bin","size":10,"v":1}\n'
GOLDEN_EXEC = b'{"chunks":[],"digest":"' + D.encode() + b'","exec":true,"size":0,"v":1}\n'


def test_pointer_golden_bytes():
    assert Pointer(size=7, digest=D, chunks=((C1, 3), (C2, 4))).encode() == GOLDEN_CHUNKED
    assert Pointer(size=10, digest=D, ref="file:///data/x.bin").encode() == GOLDEN_REF
    assert Pointer(size=0, digest=D, executable=True).encode() == GOLDEN_EXEC


@pytest.mark.parametrize("golden", [GOLDEN_CHUNKED, GOLDEN_REF, GOLDEN_EXEC])
def test_pointer_round_trip(golden):
    p = Pointer.decode(golden)
    assert p.encode() == golden
    assert Pointer.decode(p.encode()) == p


def test_pointer_keeps_unknown_keys():
    data = GOLDEN_CHUNKED.replace(b'"v":1}', b'"v":1,"zz_future":{"k":[1]}}')
    p = Pointer.decode(data)
    assert p.extra == {"zz_future": {"k": [1]}}
    assert p.encode() == data


@pytest.mark.parametrize("bad", [
    b"not json", b"[1,2]", b'"str"', b'{"size":1,"digest":"' + D.encode() + b'"}',
    b'{"v":true,"size":0,"digest":"' + D.encode() + b'","chunks":[]}',
    b'{"v":1,"size":-1,"digest":"' + D.encode() + b'","chunks":[]}',
    b'{"v":1,"size":0,"digest":"sha1:00","chunks":[]}',
    b'{"v":1,"size":0,"digest":"' + D.encode() + b'"}',
    b'{"v":1,"size":3,"digest":"' + D.encode() + b'","chunks":[["' + C1.encode() + b'",2]]}',
    b'{"v":1,"size":3,"digest":"' + D.encode() + b'","chunks":[["xyz",3]]}',
    b'{"v":1,"size":3,"digest":"' + D.encode() + b'","chunks":[["' + C1.encode() + b'"]]}',
    b'{"v":1,"size":3,"digest":"' + D.encode() + b'","ref":""}',
    b"\xff\xfe",
])
def test_malformed_pointer_is_integrity_error(bad):
    with pytest.raises(IntegrityError):
        Pointer.decode(bad, "M:v0 pointer 'x'")


def test_newer_pointer_version_is_format_error():
    with pytest.raises(FormatError, match="pointer format 2"):
        Pointer.decode(GOLDEN_CHUNKED.replace(b'"v":1', b'"v":2'))
