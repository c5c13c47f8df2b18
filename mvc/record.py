"""Record classes for the modules every command loads: the part of dataclasses mvc uses there.

`import dataclasses` imports inspect (and with it ast, dis and tokenize), and each dataclass
compiles five or six methods: together ~25 ms of `mvc ls`, whose goal is 90 ms
(docs/design.md, "Records"; docs/performance.md, "Start-up").  ``record`` gives a class
what ``dataclass`` gives it, for the fields it declares (``name: type [= default]``):

- ``__init__`` taking the fields in order, a default or ``field(default_factory=...)``
  making one optional (compiled, as dataclasses does, so that building one is as fast);
- ``__repr__`` and ``__eq__`` (same class, fields equal; ``field(compare=False)`` left out);
- frozen: attributes that cannot be set or deleted, and ``__hash__`` of the compared fields;
  not frozen: unhashable, as a dataclass with ``eq`` is.

Inheritance, ``__post_init__``, ordering and ``dataclasses.replace`` are not supported: the
decorator refuses a class that would need them.  Modules off that path (fsck, gc, hooks)
keep using dataclasses.  tests/test_record.py holds ``record`` to dataclasses' behaviour.
"""
from __future__ import annotations

_MISSING = object()


class Field:
    __slots__ = ("default", "default_factory", "compare")

    def __init__(self, default=_MISSING, default_factory=_MISSING, compare: bool = True):
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.default, self.default_factory, self.compare = default, default_factory, compare


def field(*, default=_MISSING, default_factory=_MISSING, compare: bool = True) -> Field:
    """A field's options, as dataclasses.field takes them (the ones mvc uses)."""
    return Field(default, default_factory, compare)


class FrozenInstanceError(AttributeError):
    """Setting or deleting an attribute of a frozen record (dataclasses' error has the same name)."""


def record(cls=None, /, *, frozen: bool = False):
    """``@record`` or ``@record(frozen=True)``, as ``@dataclass`` / ``@dataclass(frozen=True)``."""
    if cls is None:
        return lambda c: _build(c, frozen)
    return _build(cls, frozen)


def _build(cls: type, frozen: bool) -> type:
    if any(b is not object for b in cls.__bases__) or "__post_init__" in cls.__dict__:
        raise TypeError(f"record {cls.__qualname__}: inheritance and __post_init__ need dataclasses")
    fields: list[tuple[str, Field]] = []
    for name, kind in cls.__dict__.get("__annotations__", {}).items():
        if "ClassVar" in str(kind):
            continue
        value = cls.__dict__.get(name, _MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        if isinstance(value, Field):
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        if fields and _optional(fields[-1][1]) and not _optional(f):
            raise TypeError(f"non-default argument {name!r} follows default argument")
        fields.append((name, f))
    names = tuple(n for n, _ in fields)
    compared = tuple(n for n, f in fields if f.compare)
    cls.__init__ = _init(cls, fields, frozen)
    cls.__repr__ = _repr(names)
    cls.__eq__ = _eq(compared)
    cls.__match_args__ = names
    if frozen:
        cls.__hash__ = lambda self: hash(tuple(self.__dict__[n] for n in compared))
        cls.__setattr__ = _refuse
        cls.__delattr__ = _refuse
    else:
        cls.__hash__ = None
    return cls


def _optional(f: Field) -> bool:
    return f.default is not _MISSING or f.default_factory is not _MISSING


def _init(cls: type, fields: list[tuple[str, Field]], frozen: bool):
    """``__init__`` compiled from source, as dataclasses builds it: one plain function."""
    scope: dict = {"_MISSING": _MISSING, "_set": object.__setattr__}
    params, body = [], []
    for name, f in fields:
        if f.default_factory is not _MISSING:
            scope[f"_factory_{name}"] = f.default_factory
            params.append(f"{name}=_MISSING")
            value = f"_factory_{name}() if {name} is _MISSING else {name}"
        elif f.default is not _MISSING:
            scope[f"_default_{name}"] = f.default
            params.append(f"{name}=_default_{name}")
            value = name
        else:
            params.append(name)
            value = name
        body.append(f"_set(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    source = f"def __init__(self, {', '.join(params)}):\n    " + ("\n    ".join(body) or "pass")
    exec(source, scope)
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _repr(names: tuple[str, ...]):
    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"
    return __repr__


def _eq(compared: tuple[str, ...]):
    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)
    return __eq__


def _refuse(self, name, *value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}" if value else f"cannot delete field {name!r}")
