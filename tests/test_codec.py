"""User strings never reach git unescaped (issue 10, part 2; docs/format.md, "Refs" and
"Artifact tree"): property tests of mvc/meta/codec.py over arbitrary text and file-name
bytes, golden examples, and the real `git fsck --strict` and `git check-ref-format` over
what it writes."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pygit2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mvc.errors import IntegrityError, InvalidInputError
from mvc.meta import refs
from mvc.meta.codec import decode_entry, decode_path, decode_ref, encode_entry, encode_path, encode_ref
from mvc.paths import is_dotgit

PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GIT_CASES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any text, and any file name as os.fsdecode gives it (bytes that are not UTF-8 as lone surrogates).
texts = st.text(min_size=1, max_size=40)
file_names = st.one_of(texts, st.binary(min_size=1, max_size=24).map(os.fsdecode))
HOSTILE = ["model.lock", "a..b", "x.", ".", "..", ".git", ".GIT", ".Git", "GIT~1", "git~1", ".git.", ".git ",
           ".git. . ", ".git::$INDEX_ALLOCATION", ".g\u200cit", "\ufeff.git", "\u200c.git", ".gitmodules",
           "%", "%25", "%2e", "a\\b", "a\nb", "tab\there", "del\x7f", "c1\x85", "esc\x1b[31m", "~tmp", "a:b",
           "50%.txt", ".hidden", "Model", "model", "MNIST", "x/y", "\x00", "é", "日本", "bad\udcff", "HEAD",
           "refs", "@{", "a@{b", "x?y*z[", "^~", " lead", "trail ", "-dash", "a.lock", "GI7EBA~1"]
OUT_REF = re.compile(r"(?:[a-z0-9_-]|%[0-9a-f]{2})+")


def examples(*values):
    """hypothesis's @example, once per value."""
    def deco(fn):
        for v in reversed(values):
            fn = example(*v if isinstance(v, tuple) else (v,))(fn)
        return fn
    return deco


# ---- golden examples (docs/format.md) ---------------------------------------------------------
@pytest.mark.parametrize("name,enc", [
    ("MNIST", "%4d%4e%49%53%54"), ("model.lock", "model%2elock"), ("my-proj_1", "my-proj_1"),
    ("a..b", "a%2e%2eb"), ("x.", "x%2e"), ("Model", "%4dodel"), ("model", "model"), ("é", "%c3%a9"),
])
def test_ref_golden(name, enc):
    assert encode_ref(name) == enc and decode_ref(enc) == name


@pytest.mark.parametrize("name,enc", [
    ("model.safetensors", "model.safetensors"), ("config.json", "config.json"), ("Tokenizer", "Tokenizer"),
    (".git", "%2egit"), (".GIT", "%2eGIT"), (".Git", "%2eGit"), ("GIT~1", "GIT%7e1"), (".git.", "%2egit."),
    (".git ", "%2egit "), ("%", "%25"), ("50%.txt", "50%25.txt"), ("a\\b", "a%5cb"), ("a\nb", "a%0ab"),
    ("a:b", "a%3ab"), ("~tmp", "%7etmp"), (".hidden", "%2ehidden"), (".", "%2e"), ("..", "%2e."),
    ("c1\x85", "c1%c2%85"), ("bad\udcff", "bad%ff"), ("\u200c.git", "\u200c%2egit"), ("é", "é"),
    ("a/b", "a%2fb"), ("x.git.", "x.git."),
])
def test_entry_golden(name, enc):
    assert encode_entry(name) == enc and decode_entry(enc) == name


def test_path_golden():
    assert encode_path(".git/~tmp/50%.txt") == "%2egit/%7etmp/50%25.txt"
    assert decode_path("sub/%2ehidden/a%3ab") == "sub/.hidden/a:b"


# ---- refs ---------------------------------------------------------------------------------------
@PROPS
@given(texts)
@examples("model.lock", "a..b", "x.", ".git", "Model", "@{")
def test_ref_round_trip_alphabet_and_validity(s):
    enc = encode_ref(s)
    assert decode_ref(enc) == s
    assert OUT_REF.fullmatch(enc) and enc == enc.lower()
    assert pygit2.reference_is_valid_name(refs.artifact(s, s)) and pygit2.reference_is_valid_name(refs.registry(s))


@PROPS
@given(texts, texts)
@examples(("Model", "model"), ("MNIST", "mnist"), ("A", "%41"))
def test_distinct_names_never_share_a_ref_file_even_case_insensitively(a, b):
    if a != b:
        assert encode_ref(a).casefold() != encode_ref(b).casefold()
        assert refs.artifact("p", a).casefold() != refs.artifact("p", b).casefold()


@PROPS
@given(st.text(max_size=20))
@examples("%4D", "%4", "%", "%zz", "A", ".", "a.b")
@examples("%61", "%ff", "%c3", "", "a b", "%2F")
def test_decode_ref_accepts_only_what_encode_makes(s):
    try:
        out = decode_ref(s)
    except IntegrityError:
        return
    assert encode_ref(out) == s


@pytest.mark.parametrize("bad", ["%4D", "%4", "%", "%zz", "A", "a.b", "%61", "%ff", "%c3", "", "a/b", "x.lock"])
def test_decode_ref_refuses_with_a_typed_error(bad):
    with pytest.raises(IntegrityError, match="not in mvc's encoding"):
        decode_ref(bad)


def test_parse_decodes_and_skips_what_is_not_mvc_encoding():
    assert refs.parse(refs.artifact("Proj", "model.lock")) == ("artifact", "Proj", "model.lock")
    assert refs.parse(refs.run("p", "abc12345")) == ("run", "p", "abc12345")
    assert refs.parse(refs.registry("MNIST-prod")) == ("registry", None, "MNIST-prod")
    for hostile in ("refs/mvc/p/artifacts/Model", "refs/mvc/registry/%4D", "refs/mvc/p/artifacts/a%2"):
        assert refs.parse(hostile) is None and "encoding" in refs.problem(hostile)
    assert refs.problem("refs/mvc/p/futurething/x") == "it is in no namespace this mvc knows"


def test_git_check_ref_format_accepts_every_encoded_name():
    git = shutil.which("git")
    if git is None:
        pytest.skip("no git binary")
    for name in HOSTILE:
        if _surrogates(name):
            continue
        ref = refs.artifact("p", name)
        assert subprocess.run([git, "check-ref-format", ref]).returncode == 0, (name, ref)


# ---- tree entries -----------------------------------------------------------------------------------
@PROPS
@given(file_names)
@examples("GIT~1", ".git.", ".git ", "\ufeff.git", "a\\b", "\x85")
def test_entry_round_trip_and_output(name):
    try:
        enc = encode_entry(name)
    except InvalidInputError:  # surrogate escapes that spell UTF-8 text: os.fsdecode never makes them
        assert name.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape") != name
        return
    assert decode_entry(enc) == name
    assert enc not in ("", ".", "..") and not is_dotgit(enc) and not enc.startswith(".")
    assert not re.search(r"[/\\:~\x00-\x1f\x7f-\x9f\ud800-\udfff]", enc)
    assert not re.search(r"%(?![0-9a-f]{2})", enc)
    enc.encode("utf-8")  # git stores entry names as bytes: always valid UTF-8


@PROPS
@given(st.lists(file_names, min_size=1, max_size=5))
def test_path_round_trip(parts):
    parts = [p.replace("/", "_") for p in parts]
    path = "/".join(parts)
    try:
        enc = encode_path(path)
    except InvalidInputError:
        return
    assert decode_path(enc) == path and enc.count("/") == path.count("/")


@PROPS
@given(st.text(max_size=20))
@examples("%2E", "%", "%2", ".x", "a:b", "%41", "%c3%a9")
@examples("a\nb", "%e2%80%8c.git", "\u200c.git", "%ed%a0%80", "")
def test_decode_entry_accepts_only_what_encode_makes(s):
    try:
        out = decode_entry(s)
    except IntegrityError:
        return
    assert encode_entry(out) == s


@PROPS
@given(texts, texts)
def test_distinct_entries_stay_distinct(a, b):
    if a != b:
        assert encode_entry(a) != encode_entry(b)


def test_encoding_refuses_what_is_not_a_name():
    for bad in ("", "\ud800", "\udcc3\udca9"):  # empty, a lone high surrogate, escapes spelling "é"
        with pytest.raises(InvalidInputError):
            encode_entry(bad)
    with pytest.raises(InvalidInputError):
        encode_ref("")


def _surrogates(s: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in s)


# ---- the real git over what the encoding writes ------------------------------------------------------------
def _git_fsck_tree(tmp_path, names: list[str]) -> subprocess.CompletedProcess:
    """A bare repository whose one commit holds a file under each encoded name, each also a folder
    (``<name>/<name>``), on a ref named after it; the real `git fsck --strict` over it."""
    repo = pygit2.init_repository(str(tmp_path / "g.git"), bare=True)
    blob = repo.create_blob(b"x")
    tb = repo.TreeBuilder()
    for n in names:
        sub = repo.TreeBuilder()
        sub.insert(encode_entry(n), blob, pygit2.GIT_FILEMODE_BLOB)
        tb.insert(encode_entry(n), sub.write(), pygit2.GIT_FILEMODE_TREE)
    sig = pygit2.Signature("t", "t@example.com")
    commit = repo.create_commit(None, sig, sig, "x", tb.write(), [])
    for n in names:
        if _surrogates(n):
            continue  # a file name's bytes: never a ref's name
        repo.references.create(refs.artifact("p", n), commit, force=True)
    return subprocess.run(["git", "--git-dir", str(tmp_path / "g.git"), "fsck", "--strict", "--no-dangling"],
                          capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="no git binary")
def test_git_fsck_strict_accepts_hostile_names_encoded(tmp_path):
    p = _git_fsck_tree(tmp_path, HOSTILE)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="no git binary")
@GIT_CASES
@given(st.lists(file_names, min_size=1, max_size=60, unique_by=lambda n: n.casefold()))
def test_git_fsck_strict_accepts_arbitrary_names_encoded(tmp_path_factory, names):
    ok = []
    for n in names:
        try:
            encode_entry(n)
        except InvalidInputError:
            continue
        ok.append(n)
    ok = list({encode_entry(n): n for n in ok}.values())
    if ok:
        p = _git_fsck_tree(tmp_path_factory.mktemp("g"), ok)
        assert p.returncode == 0, p.stdout + p.stderr
