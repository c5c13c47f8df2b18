"""mvc.record behaves as dataclasses does for what mvc uses of it: the same classes built both
ways must construct, compare, hash, print and refuse alike."""
from __future__ import annotations

import dataclasses

import pytest

from mvc import record as rec


def pair(frozen: bool):
    """One class declared once, built by dataclasses and by mvc.record."""
    def declare(deco, fieldf):
        class Thing:
            size: int
            name: str = "n"
            tags: list = fieldf(default_factory=list)
            extra: dict = fieldf(default_factory=dict, compare=False)

            def double(self) -> int:
                return 2 * self.size
        Thing.__qualname__ = "Thing"
        return deco(frozen=frozen)(Thing)
    return declare(dataclasses.dataclass, dataclasses.field), declare(rec.record, rec.field)


@pytest.mark.parametrize("frozen", [False, True])
def test_construction_defaults_and_factories(frozen):
    for cls in pair(frozen):
        a, b = cls(1), cls(2, "x", [1], {"k": 1})
        assert (a.size, a.name, a.tags, a.extra) == (1, "n", [], {})
        assert (b.size, b.name, b.tags, b.extra) == (2, "x", [1], {"k": 1})
        assert cls(1).tags is not cls(1).tags  # a fresh list each time
        assert cls(size=3, name="k").double() == 6
        assert cls.name == "n" and cls.__match_args__ == ("size", "name", "tags", "extra")
        with pytest.raises(TypeError):
            cls()
        with pytest.raises(TypeError):
            cls(1, "a", [], {}, "too many")
        with pytest.raises(TypeError):
            cls(1, nope=2)


@pytest.mark.parametrize("frozen", [False, True])
def test_equality_repr_and_hash_match_dataclasses(frozen):
    dc, rc = pair(frozen)
    for args in [(1,), (1, "a"), (1, "a", [2]), (1, "a", [2], {"ignored": 1})]:
        assert repr(rc(*args)) == repr(dc(*args))
        assert (rc(*args) == rc(1, "a", [2])) == (dc(*args) == dc(1, "a", [2]))
    assert rc(1, "a", [], {"x": 1}) == rc(1, "a", [], {"y": 2})  # compare=False
    assert rc(1) != rc(2) and rc(1) != dc(1) and rc(1) != (1, "n", [], {})
    if frozen:
        assert hash(rc(1, "a", ())) == hash(rc(1, "a", (), {"x": 1}))
        assert len({rc(1, "a", ()), rc(1, "a", ()), rc(2, "a", ())}) == 2
    else:
        with pytest.raises(TypeError):
            hash(rc(1))
        with pytest.raises(TypeError):
            hash(dc(1))


def test_frozen_refuses_changes_as_dataclasses_does():
    dc, rc = pair(True)
    for obj, err in ((dc(1), dataclasses.FrozenInstanceError), (rc(1), rec.FrozenInstanceError)):
        with pytest.raises(err):
            obj.size = 2
        with pytest.raises(err):
            del obj.size
        with pytest.raises(AttributeError):
            obj.other = 1
        assert obj.size == 1
    thawed = pair(False)[1](1)
    thawed.size = 5
    assert thawed.size == 5


def test_what_it_does_not_support_is_refused():
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @rec.record
        class Bad:
            a: int = 1
            b: int

    class Base:
        pass

    with pytest.raises(TypeError, match="inheritance"):
        @rec.record
        class Child(Base):
            a: int

    with pytest.raises(TypeError, match="__post_init__"):
        @rec.record
        class Post:
            a: int

            def __post_init__(self):
                pass

    with pytest.raises(ValueError):
        rec.field(default=1, default_factory=list)


def test_the_classes_every_command_loads_are_records():
    """The point of the module: no dataclass (so no inspect) on the path of `mvc ls`."""
    from mvc.api.artifact import FileInfo
    from mvc.meta.artifacts import ArtifactState, VersionInfo
    from mvc.meta.gitdb import TreeEdit
    from mvc.meta.refstore import RefTable
    from mvc.meta.registry import LinkInfo
    from mvc.names import Address
    from mvc.repo.repository import LogResult
    from mvc.settings import Key
    from mvc.store.pointer import Pointer
    for cls in (FileInfo, ArtifactState, VersionInfo, TreeEdit, RefTable, LinkInfo, Address, LogResult, Key, Pointer):
        assert not dataclasses.is_dataclass(cls), cls
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
