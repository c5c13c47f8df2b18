"""mvc.lock: which model versions this code uses, one entry per model, in the code's git
repository, so `git log -p mvc.lock` answers "which model did this commit ship with".

    # mvc.lock: ...
    version = 1

    [models."MNIST"]
    project = "mnist"
    name = "MNIST"
    version = "v3"
    digest = "<64 hex>"
    path = "models/mnist"
    remote = "origin"               # optional: the mvc remote the version is pushed to
    via = "registry/MNIST-prod:v1"  # optional: pinned through a registry address

Keys are written sorted, values as TOML basic strings: diff-friendly, and written here (a dozen
lines) rather than by a TOML writer dependency; read with the standard library's tomllib (tomli
before Python 3.11).  A lock comes with code from anywhere, so everything in it is checked: names
by the name rules, a digest is 64 hex digits, a path is relative and stays inside the work tree."""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..errors import InvalidInputError, NotFoundError
from ..fsutil import atomic_write, folder_lock
from ..names import check_name, check_project, check_registered_model_name
from ..paths import path_problem
from ..settings import toml_string

NAME = "mvc.lock"
FORMAT = 1
HEADER = ("# mvc.lock: the model versions this code uses. Written by `mvc use ADDRESS --save`;\n"
          "# `mvc use --locked` restores them, `mvc lock check` checks them (docs/cli.md).\n")
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_VERSION_RE = re.compile(r"v(0|[1-9][0-9]*)")
FIELDS = ("project", "name", "version", "digest", "path", "remote", "via")


@dataclass
class Pin:
    key: str
    project: str
    name: str
    version: str
    digest: str
    path: str
    remote: str | None = None
    via: str | None = None

    @property
    def address(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"

    def push_address(self) -> str:
        """By content: the same version whatever number a remote gives it."""
        return f"{self.project}/{self.name}@{self.digest}"

    def as_dict(self) -> dict:
        return {"key": self.key, **{f: getattr(self, f) for f in FIELDS}}


def find(start: str | None = None) -> str:
    """Where mvc.lock is (or goes): at the top of the enclosing git work tree, else in ``start``."""
    start = os.path.abspath(start or ".")
    try:
        p = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        top = p.stdout.strip() if p.returncode == 0 else ""
    except FileNotFoundError:
        top = ""
    return os.path.join(top or start, NAME)


def load(path: str) -> list[Pin]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise NotFoundError(f"no {NAME} at {path}",
                            "pin a version with `mvc use ADDRESS -o DIR --save` (it writes the file)") from None
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"{path} is not UTF-8 text ({e})", f"restore it from git (`git checkout {NAME}`)") from None
    return parse(text, path)


def parse(text: str, where: str = NAME) -> list[Pin]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInputError(f"{where} is not valid TOML: {e}", "fix it, or restore it from git") from None
    fmt = data.get("version", FORMAT)
    if fmt != FORMAT:
        raise InvalidInputError(f"{where} has version {fmt!r}; this mvc reads version {FORMAT}",
                                "upgrade mvc (pip install -U mvc-models)")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise InvalidInputError(f"{where}: 'models' must be a table of tables", "see docs/cli.md, mvc.lock")
    return [_pin(key, entry, where) for key, entry in sorted(models.items())]


def _pin(key: str, entry, where: str) -> Pin:
    def bad(why: str) -> InvalidInputError:
        return InvalidInputError(f"{where}: entry {key!r}: {why}", "fix the entry, or pin again with `mvc use ... --save`")
    if not isinstance(entry, dict):
        raise bad("is not a table")
    values = {}
    for f in FIELDS:
        v = entry.get(f)
        if v is not None and not isinstance(v, str):
            raise bad(f"{f} must be a string")
        values[f] = v
    for f in ("project", "name", "version", "digest", "path"):
        if not values[f]:
            raise bad(f"{f} is missing")
    try:
        check_project(values["project"])
        check_name(values["name"], "artifact name")
        if values["remote"]:
            check_name(values["remote"], "remote name")
        if values["via"]:
            check_registered_model_name(values["via"].split("/", 1)[-1].split(":", 1)[0])
    except InvalidInputError as e:
        raise bad(e.message) from None
    if not _VERSION_RE.fullmatch(values["version"]):
        raise bad(f"version {values['version']!r} is not v<N>")
    if not _DIGEST_RE.fullmatch(values["digest"]):
        raise bad("digest is not 64 lower-case hex digits")
    problem = path_problem(values["path"]) if values["path"] != "." else None
    if problem or values["path"].startswith("/"):
        raise bad(f"path {values['path']!r} {problem or 'is absolute'}; it must be a folder inside the work tree")
    return Pin(key, **values)


def dumps(pins: list[Pin]) -> str:
    parts = [HEADER, f"version = {FORMAT}\n"]
    for pin in sorted(pins, key=lambda p: p.key):
        parts.append(f"\n[models.{toml_string(pin.key)}]\n")
        for f in FIELDS:
            v = getattr(pin, f)
            if v is not None:
                parts.append(f"{f} = {toml_string(v)}\n")
    return "".join(parts)


def save(path: str, pin: Pin) -> None:
    """Add or replace ``pin`` (by key) in the lock at ``path``, creating it.  Under a lock on its
    folder: two `mvc use --save` of different models at once must both end up pinned."""
    with folder_lock(os.path.dirname(os.path.abspath(path)), path):
        pins = load(path) if os.path.exists(path) else []
        pins = [p for p in pins if p.key != pin.key] + [pin]
        atomic_write(path, dumps(pins).encode())
