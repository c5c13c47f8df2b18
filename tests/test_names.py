"""SPEC "Names and addresses": name rules, alias rules and the address grammar."""
from __future__ import annotations

import os

import pytest

import mvc
from mvc.errors import AmbiguousAddressError, InvalidNameError, NotFoundError
from mvc.names import Address, check_alias, check_name, check_project, check_registered_model_name, parse_address


@pytest.mark.parametrize("name", ["a", "A" * 128, "MNIST", "my_model-2.0", "0abc", "a.b.c", "x-"])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name,bad", [("my model", " "), ("a/b", "/"), ("a:b", ":"), ("é", "é"),
                                      ("a@b", "@"), ("tab\tx", "\t"), ("star*", "*")])
def test_invalid_character_is_named(name, bad):
    with pytest.raises(InvalidNameError) as ei:
        check_name(name)
    assert repr(bad) in ei.value.message
    assert "A-Z a-z 0-9 _ - ." in ei.value.hint


def test_length_limits():
    with pytest.raises(InvalidNameError, match="empty"):
        check_name("")
    with pytest.raises(InvalidNameError, match="129 characters"):
        check_name("a" * 129)


def test_leading_dot_refused():
    with pytest.raises(InvalidNameError, match="starts with '.'"):
        check_name(".hidden")


@pytest.mark.parametrize("alias", ["v0", "v1", "v12", "v007"])
def test_version_like_alias_reserved(alias):
    with pytest.raises(InvalidNameError, match="reserved"):
        check_alias(alias)


def test_latest_by_hand_refused_but_vx_ok():
    with pytest.raises(InvalidNameError, match="latest"):
        check_alias("latest")
    assert check_alias("latest", allow_latest=True) == "latest"
    assert check_alias("v1a") == "v1a" and check_alias("version2") == "version2"
    with pytest.raises(InvalidNameError, match="'!'"):
        check_alias("prod!")


def test_registry_is_not_a_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # never the repository's root: a store made there is every later test's
    with pytest.raises(InvalidNameError, match="registry"):
        check_project("registry")
    with pytest.raises(InvalidNameError, match="registry"):
        mvc.init(project="registry")
    assert not (tmp_path / ".mvc").exists()  # refused before any store was made


@pytest.mark.parametrize("bad,char", [("a/b", "/"), ("registry/x", "/"), ("x:v1", ":")])
def test_registered_model_name_is_bare(bad, char):
    with pytest.raises(InvalidNameError) as ei:
        check_registered_model_name(bad)
    assert char in ei.value.message and "bare name" in ei.value.message


@pytest.mark.parametrize("text,expect", [
    ("M", dict(name="M", project=None, entity=None, version=None, alias=None, digest=None, registry=False)),
    ("p/M", dict(name="M", project="p")),
    ("e/p/M", dict(name="M", project="p", entity="e")),
    ("M:v3", dict(name="M", version="v3")),
    ("M:best", dict(name="M", alias="best")),
    ("M:latest", dict(name="M", alias="latest")),
    ("e/p/M:prod", dict(entity="e", project="p", name="M", alias="prod")),
    ("M@deadbeef", dict(name="M", digest="deadbeef")),
    ("p/M@0123456789ab", dict(project="p", name="M", digest="0123456789ab")),
    ("registry/RM", dict(name="RM", registry=True, project=None)),
    ("registry/RM:v2", dict(name="RM", registry=True, version="v2")),
    ("registry/RM:production", dict(name="RM", registry=True, alias="production")),
])
def test_address_grammar(text, expect):
    a = parse_address(text)
    for k, v in expect.items():
        assert getattr(a, k) == v, (text, k)


def test_no_suffix_means_latest():
    assert parse_address("M").selector == "latest"
    assert str(parse_address("p/M")) == "p/M:latest"


@pytest.mark.parametrize("text", ["", "M@dead", "M@xyzxyzxy", "a/b/c/d", "/M", "M:", "p//M",
                                  "M:v1:v2", "registry/RM@deadbeef0", "bad name", ".M:v0", "M:v1/x"])
def test_bad_addresses(text):
    with pytest.raises(InvalidNameError):
        parse_address(text)


def _log(run, content: bytes, name: str, tmp):
    p = os.path.join(tmp, "f.bin")
    with open(p, "wb") as f:
        f.write(content)
    return run.log_model(p, name=name)


def test_digest_prefix_resolution_and_ambiguity(project):
    run = mvc.init()
    arts = []
    i = 0
    # log until two versions share a first hex digit, so a short prefix can be ambiguous
    while True:
        arts.append(_log(run, b"content %d" % i, "M", str(project)))
        firsts = [a.digest[0] for a in arts]
        dup = next((c for c in firsts if firsts.count(c) > 1), None)
        i += 1
        if dup:
            break
    api = mvc.Api()
    for a in arts:
        assert api.artifact(f"M@{a.digest[:8]}").version == a.version
        assert api.artifact(f"M@{a.digest}").version == a.version
        assert api.artifact(f"M@{a.digest[:10].upper()}").version == a.version  # as git takes either case
    clash = [a for a in arts if a.digest[0] == dup]
    # an 8-digit clash is astronomically rare, so hand the resolver the shared (shorter) prefix directly
    common = os.path.commonprefix([clash[0].digest, clash[1].digest])
    with pytest.raises(AmbiguousAddressError) as ei:
        api.repo.resolve(Address(name="M", digest=common))
    for a in clash:
        assert a.version in ei.value.message
    with pytest.raises(NotFoundError, match="no version of M has a digest"):
        api.artifact("M@" + ("0" * 8 if not any(a.digest.startswith("0" * 8) for a in arts) else "f" * 8))


def test_unknown_address_lists_nearest(project):
    run = mvc.init()
    _log(run, b"x", "MNIST-classifier", str(project))
    api = mvc.Api()
    with pytest.raises(NotFoundError) as ei:
        api.artifact("MNIST-clasifier")
    assert "MNIST-classifier" in ei.value.message and ei.value.hint
    with pytest.raises(NotFoundError) as ei:
        api.artifact("MNIST-classifier:bets")
    assert "no alias 'bets'" in ei.value.message
    with pytest.raises(NotFoundError) as ei:
        api.artifact("MNIST-classifier:v9")
    assert "v0" in ei.value.message
    with pytest.raises(NotFoundError) as ei:
        api.artifact("other/MNIST-classifier")
    assert "proj/MNIST-classifier" in ei.value.message
    run.log_model(os.path.join(str(project), "f.bin"), name="MNIST-classifier")
    a = run.log_model(os.path.join(str(project), "f.bin"), name="MNIST-classifier")
    a.link("registry/MNIST-prod")
    with pytest.raises(NotFoundError) as ei:
        api.artifact("registry/MNIST-prd")
    assert "MNIST-prod" in ei.value.message


def test_project_and_entity_addresses(project):
    run = mvc.init(project="other", entity="team")
    a = _log(run, b"y", "M", str(project))
    api = mvc.Api()
    assert api.artifact("other/M").version == a.version
    assert api.artifact("team/other/M:v0").digest == a.digest
    assert api.artifact("other/M:latest").digest == a.digest
