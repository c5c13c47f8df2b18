"""The format pinned by bytes (issue 10, part 3): tests/fixtures/format2 is a committed format-2
store (the format-1 fixture after `mvc migrate`).  Every value below was computed once from the
definitions in docs/format.md with the `blake3` module and `json` alone (or, for whole-file
hashes, read from the format-1 pointers, which held plain BLAKE3 of each file), and is written
here as a literal: an accidental change of chunk ids, digests, ref names or layout fails here
even if the code still round-trips its own output.  docs/format.md, "Worked example", walks
the same store by hand."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys

import blake3
import pytest

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "format2")

REFS = {  # ref name -> what it names
    "refs/mvc/fx/artifacts/%4dodel": "Model",
    "refs/mvc/fx/artifacts/small-files": "small-files",
    "refs/mvc/fx/artifacts/data%2ev1": "data.v1",
    "refs/mvc/registry/%4dodel-prod": "registry/Model-prod",
}
ARTIFACT_DIGESTS = {
    "Model:v0": "aff797b2dfcc5fb839430f05d969d319b9d2adf2a6b29cd5c6c0fd4f851ce887",
    "Model:v1": "66dc3295795ebf6348c26d9dbe70bdcbe56194246ba20f909ca55ccc5749974c",
    "small-files:v0": "3535793c998926095b7038a1ebfcea8f48c1b384a1e1a700ffbfc4bf72c946db",
    "data.v1:v0": "a16e460b961818d77e4e9f4daae97795d42499f7e5b8ea4486dc7d290188d0b9",
}
MODEL_V0_POINTERS = {  # path -> (chunks, composed file digest)
    "config.json": ([("0bb8155d17785aaeb7c17147c4b14b1ec2cac396f2de5ff1d14c111df1cb3799", 28)],
                    "blake3:60435705dbb0fbc12cfaea9da3d9b3462e8f175578a36cd1eeee015a665472d0"),
    "tokenizer/vocab.txt": ([("f2a0aad84bf0cd8c16ae564ee9e5e29ea4c8638741bd0e2e64444b2649c478ef", 6)],
                            "blake3:2f3a510cd5f62b795c726519dde5626257d6cafb6948662ed44b5c4f0f2eb4e3"),
    "model.safetensors": ([("b2fa7926371db69c2df410977b406e2b3685ae6b4ef5ac4b1d1ab405a2c357a9", 360),
                           ("d07d45539723f5889eac6be512f693dd06920299cbb1f2e62d704af8dc7cdf5b", 400000),
                           ("c897e42e56db25a051f561cbe56166aa61a2905942bc8179522c04c8d11c9d65", 400000),
                           ("9f5958416c2f9ea6c79a8dccf32f2aee409427eb5e78e5e7d548f071372e7c41", 400000),
                           ("00e0860a0aea31482dea1b13bd740bd34b3d7bc24563f82e4e5913e4d56d8868", 400000)],
                          "blake3:437dc6ed6339f5d62e3bb90a6b1ceed7932bfe7359ea5984a40f7eefeb76f133"),
}
WHOLE_FILE_BLAKE3 = {  # plain BLAKE3 of each file a use writes (b3sum of the bytes)
    "Model:v0": {"config.json": "0bb8155d17785aaeb7c17147c4b14b1ec2cac396f2de5ff1d14c111df1cb3799",
                 "model.safetensors": "1372909fea8b4f84ce3893f70a793f4cc6b15a1ce21b0c220a87b0c59892233b",
                 "tokenizer/vocab.txt": "f2a0aad84bf0cd8c16ae564ee9e5e29ea4c8638741bd0e2e64444b2649c478ef"},
    "Model:v1": {"config.json": "0bb8155d17785aaeb7c17147c4b14b1ec2cac396f2de5ff1d14c111df1cb3799",
                 "model.safetensors": "6a6a9b24056b0ea4bce4191db857f6e560b664a4958ff527dbce6fbe156f9e66",
                 "tokenizer/vocab.txt": "f2a0aad84bf0cd8c16ae564ee9e5e29ea4c8638741bd0e2e64444b2649c478ef"},
}


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> str:
    """The fixture as a git directory: git keeps no empty folder, and a repository needs refs/."""
    path = str(tmp_path_factory.mktemp("format2") / "store")
    shutil.copytree(FIXTURE, path)
    os.makedirs(os.path.join(path, "refs"), exist_ok=True)
    return path


def git(bare: str, *args) -> str:
    return subprocess.run(["git", "--git-dir", bare, *args], capture_output=True, text=True, check=True).stdout


def mvc(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mvc", *map(str, args)], cwd=str(cwd), capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, MVC_SERVER="0", MVC_PROJECT="fx"))


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root / ".mvc")
    for sub in ("tmp", "runs", "leases", "hooks", "refs"):
        (root / ".mvc" / sub).mkdir(exist_ok=True)
    return root


def test_format_file_and_ref_names_are_pinned(bare):
    with open(os.path.join(FIXTURE, "mvc-format.json"), "rb") as f:
        assert f.read() == b'{"features":[],"format":2}\n'
    refs = [r for r in git(bare, "for-each-ref", "--format=%(refname)", "refs/mvc/").split("\n")
            if r and "/runs/" not in r]
    assert sorted(refs) == sorted(REFS)


def test_chunk_files_are_named_by_the_blake3_of_their_bytes():
    """Every loose chunk and every packed one: the id is BLAKE3 of the bytes (checked with the
    blake3 module, not mvc), and the Model:v0 chunks pinned above are all there."""
    seen = {}
    for fan in os.listdir(os.path.join(FIXTURE, "chunks")):
        for rest in os.listdir(os.path.join(FIXTURE, "chunks", fan)):
            with open(os.path.join(FIXTURE, "chunks", fan, rest), "rb") as f:
                data = f.read()
            assert blake3.blake3(data).hexdigest() == fan + rest
            seen[fan + rest] = len(data)
    for name in os.listdir(os.path.join(FIXTURE, "packs")):
        if name.endswith(".idx"):
            idx = json.loads(open(os.path.join(FIXTURE, "packs", name), "rb").read())
            pack = open(os.path.join(FIXTURE, "packs", idx["pack"] + ".pack"), "rb").read()
            for cid, off, n in idx["chunks"]:
                assert blake3.blake3(pack[off:off + n]).hexdigest() == cid
                seen[cid] = n
    for chunks, _ in MODEL_V0_POINTERS.values():
        for cid, n in chunks:
            assert seen[cid] == n


def test_pointers_and_digests_are_pinned(bare):
    """The pointer blobs of Model:v0 as bytes, and each version's digest in version.json."""
    for path, (chunks, digest) in MODEL_V0_POINTERS.items():
        blob = git(bare, "cat-file", "blob", f"refs/mvc/fx/artifacts/%4dodel:versions/0/v0/files/{path}").encode()
        expect = ('{"chunks":[' + ",".join(f'["{c}",{n}]' for c, n in chunks) + f'],"digest":"{digest}",'
                  f'"exec":false,"size":{sum(n for _, n in chunks)},"v":1}}\n').encode()
        assert blob == expect, path
        h = blake3.blake3(b"mvc-file-v2\x00")                      # the composed digest, by its definition
        for cid, n in chunks:
            h.update(bytes.fromhex(cid) + struct.pack("<Q", n))
        assert "blake3:" + h.hexdigest() == digest
    for address, digest in ARTIFACT_DIGESTS.items():
        name, v = address.split(":")
        ref = {"Model": "%4dodel", "data.v1": "data%2ev1"}.get(name, name)
        record = json.loads(git(bare, "cat-file", "blob", f"refs/mvc/fx/artifacts/{ref}:versions/0/{v}/version.json"))
        assert record["digest"] == digest, address
        index = f"refs/mvc/fx/artifacts/{ref}:digests/{digest[:2]}/{digest[2:4]}/{digest[4:]}"
        assert git(bare, "cat-file", "blob", index) == f"{v}\n"


def test_todays_code_reads_every_byte(store, tmp_path):
    rows = json.loads(mvc("ls", "Model", "--json", cwd=store).stdout)
    assert [(r["version"], r["digest"]) for r in rows] == [("v0", ARTIFACT_DIGESTS["Model:v0"]),
                                                             ("v1", ARTIFACT_DIGESTS["Model:v1"])]
    for address, files in WHOLE_FILE_BLAKE3.items():
        out = tmp_path / address.replace(":", "_")
        r = mvc("use", address, "-o", out, cwd=store)
        assert r.returncode == 0, r.stderr
        got = {os.path.relpath(os.path.join(b, n), out).replace(os.sep, "/"):
               blake3.blake3(open(os.path.join(b, n), "rb").read()).hexdigest()
               for b, _, ns in os.walk(out) for n in ns}
        assert got == files
    r = mvc("hash", tmp_path / "Model_v0" / "model.safetensors", "--json", cwd=store)  # without logging it
    assert r.returncode == 0, r.stderr
    assert MODEL_V0_POINTERS["model.safetensors"][1] in r.stdout
    assert mvc("fsck", cwd=store).returncode == 0
    git_fsck = subprocess.run(["git", "--git-dir", str(store / ".mvc"), "fsck", "--strict", "--no-dangling"],
                              capture_output=True, text=True)
    assert git_fsck.returncode == 0, git_fsck.stdout + git_fsck.stderr
