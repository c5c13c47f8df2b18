"""run.config and run.summary as W&B users write them: dicts that also answer to attributes
(`run.config.lr`, `run.summary.best = 0.9`), with W&B's update/setdefaults."""
from __future__ import annotations

from ..canonical import clean_json
from ..errors import InvalidInputError, UsageError


class AttrDict(dict):
    """A dict whose string keys are also attributes.  Values are checked as JSON when set, so a
    value the run record cannot hold is refused where it is set, not at finish."""

    _what = "config"

    def __init__(self, data=None):
        super().__init__()
        if data:
            self.update(data)

    def __getattr__(self, key: str):
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"{self._what} has no key {key!r}") from None

    def __setattr__(self, key: str, value) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setitem__(self, key, value) -> None:
        if not isinstance(key, str):
            raise InvalidInputError(f"{self._what} keys must be strings, not {type(key).__name__}",
                                    f"e.g. run.{self._what}['lr'] = 0.001")
        clean_json({key: value}, self._what)
        super().__setitem__(key, value)

    def update(self, data=None, allow_val_change=None, **kw) -> None:  # noqa: ARG002 - W&B's signature
        """W&B's update: a dict, a Mapping or an argparse.Namespace (values may change locally)."""
        for k, v in dict(_as_mapping(data, self._what), **kw).items():
            self[k] = v

    def setdefaults(self, data) -> None:
        """Set the keys of ``data`` that are not set yet (W&B's config.setdefaults)."""
        for k, v in _as_mapping(data, self._what).items():
            if k not in self:
                self[k] = v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def as_dict(self) -> dict:
        return dict(self)

    def persist(self) -> None:
        """W&B syncs here; the run record is written at finish (and at each artifact commit)."""


class Config(AttrDict):
    _what = "config"


class Summary(AttrDict):
    _what = "summary"


def _as_mapping(data, what: str) -> dict:
    import argparse
    from collections.abc import Mapping
    if data is None:
        return {}
    if isinstance(data, argparse.Namespace):
        return vars(data)
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what} must be a dict, not {type(data).__name__}", "pass e.g. {'lr': 0.001}")
    return dict(data)


class NoActiveRun:
    """What ``mvc.config`` / ``mvc.summary`` are with no active run (before mvc.init(), or once
    every run is finished): any use says to start one."""

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def _fail(self, *_, **__):
        raise UsageError(f"mvc.{self._name} is used with no active run (none was started, or it finished)",
                         f"call run = mvc.init(...) first; then mvc.{self._name} is run.{self._name}")

    __getattr__ = __setattr__ = __getitem__ = __setitem__ = __contains__ = __iter__ = __len__ = _fail

    def __repr__(self) -> str:
        return f"<mvc.{self._name} with no active run>"
