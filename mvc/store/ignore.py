"""What a log of a folder leaves out: version-control folders (always, with a note), the
defaults (``__pycache__``, ``.DS_Store``), a ``.mvcignore`` at the logged folder's root and
``--exclude`` patterns (``exclude=`` in Python), both in gitignore syntax through pathspec.

The walk (store/walk.py) asks once per entry, by its '/'-separated path below the logged
root (a folder's with a trailing '/', so ``logs/`` patterns match it and the walk does not
descend).  Without a ``.mvcignore`` or an exclude the question is two set lookups: pathspec
(~8 us a path here) is consulted only when the user gave patterns."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from ..paths import is_dotgit

IGNORE_FILE = ".mvcignore"
# Version-control and store folders: another tool's own files, never a model's. Skipped with a note.
VCS_FOLDERS = frozenset({".git", ".hg", ".svn", ".dvc", ".mvc"})
# Left out unless a .mvcignore or exclude pattern says otherwise (`!__pycache__/`): Python's
# bytecode caches and macOS's Finder files, which no model needs and which differ per machine.
DEFAULT_FOLDERS = frozenset({"__pycache__"})
DEFAULT_FILES = frozenset({".DS_Store"})
DEFAULT_PATTERNS = ("__pycache__/", ".DS_Store")


@dataclass(frozen=True)
class Skipped:
    """An entry a log left out: its path below the logged root ('/' after a folder) and why
    ("vcs": a version-control folder; "ignored": the defaults, .mvcignore or an exclude)."""
    path: str
    why: str


@dataclass
class IgnoreRules:
    """The rules for one logged folder.  ``spec``: the user's patterns with the defaults first
    (so a ``!`` line can bring a default back), or None when there are none."""
    spec: object | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    def is_vcs(self, name: str, is_dir: bool) -> bool:
        """A version-control or store folder (``.git`` also as a file: a worktree's or a submodule's
        pointer, and in every spelling git takes for it)."""
        if is_dir and name in VCS_FOLDERS:
            return True
        return (not name.isascii() or name[:1] in ".gG") and is_dotgit(name)

    def ignored(self, relpath: str, name: str, is_dir: bool) -> bool:
        """Whether the entry at ``relpath`` (named ``name``) is left out by the defaults or patterns."""
        if self.spec is None:
            return name in (DEFAULT_FOLDERS if is_dir else DEFAULT_FILES)
        return self.spec.match_file(relpath + "/" if is_dir else relpath)


def rules_for(root: str | None, exclude=()) -> IgnoreRules:
    """The rules for logging the folder ``root`` (None: a single file, which only the VCS rule
    could touch) with ``exclude`` patterns: its ``.mvcignore`` if it has one, then the excludes."""
    exclude = check_patterns(exclude)
    lines: list[str] = []
    sources = []
    if root is not None:
        from_file = _read_ignore_file(os.path.join(root, IGNORE_FILE))
        if from_file is not None:
            lines += from_file
            sources.append(IGNORE_FILE)
    if exclude:
        lines += exclude
        sources.append("--exclude")
    if not lines:
        return IgnoreRules()
    return IgnoreRules(_compile([*DEFAULT_PATTERNS, *lines], " and ".join(sources)), tuple(sources))


def check_patterns(exclude) -> list[str]:
    """``exclude`` as a list of pattern strings: one string or an iterable of them."""
    if exclude is None:
        return []
    if isinstance(exclude, str):
        exclude = [exclude]
    try:
        patterns = list(exclude)
    except TypeError:
        raise InvalidInputError(f"exclude must be a pattern or a list of patterns, not {exclude!r}",
                                "e.g. exclude=['*.tmp', 'logs/'] (gitignore syntax)") from None
    for p in patterns:
        if not isinstance(p, str) or not p.strip() or "\n" in p or "\r" in p or "\x00" in p:
            raise InvalidInputError(f"exclude pattern {p!r} is not a one-line, non-empty pattern",
                                    "pass gitignore-style patterns such as '*.tmp', 'logs/' or 'checkpoints/step-*'")
    return patterns


def _read_ignore_file(path: str) -> list[str] | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InvalidInputError(f"{path} is a folder; a {IGNORE_FILE} must be a text file",
                                f"rename the folder, or make {IGNORE_FILE} a file of gitignore patterns") from None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path} is not UTF-8 text", f"write {IGNORE_FILE} as UTF-8 gitignore patterns") from None


def _compile(lines: list[str], source: str):
    import pathspec
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except ValueError as e:  # pathspec's GitWildMatchPatternError: a pattern it cannot read
        raise InvalidInputError(f"bad pattern in {source}: {e}",
                                "use gitignore syntax: '*.tmp', 'logs/', '/build', '!keep.tmp'") from None


def skipped_notes(skipped) -> list[str]:
    """One line per version-control folder a log left out (what `mvc log` prints as a note and
    the Python API warns); files left out by the defaults or the user's patterns go unmentioned,
    as git says nothing of what .gitignore leaves out."""
    return [f"skipped {s.path} (a version-control folder: another tool's files, not the model's; "
            f"log a copy if you need them)" for s in skipped if s.why == "vcs"]


def warn_notes(notes: list[str]) -> None:
    """Each note as a UserWarning pointed at the user's line: the first caller outside mvc
    (``stacklevel`` counted here, since the API's wrappers differ in depth)."""
    if not notes:
        return
    import sys
    import warnings
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    level, frame = 1, sys._getframe(0)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=level)
