"""The walk of what a log reads: the regular files under a path, sorted by their path below it.

Symlinks to regular files and folders are followed wherever they point: the user is reading
their own files, and a Hugging Face cache snapshot (``snapshots/<rev>/``) is nothing but
relative links into ``../../blobs/``.  A version records the link's name with the bytes of
its target, so ``use`` writes a plain file (it never writes a symlink).  A dangling link, a
loop (a link to one of its own folders, or links to each other) and anything that is not a
regular file or folder (a fifo, a device, a socket) are refused by name before a byte is
stored.  What store/ignore.py leaves out is never stat'ed: a ``.git`` folder costs nothing.
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from ..paths import collision, is_dotgit, path_problem
from .ignore import IgnoreRules, Skipped, rules_for


@dataclass(frozen=True)
class FileEntry:
    relpath: str  # '/'-separated, relative to the logged root
    abspath: str  # where the bytes are read: a symlink's resolved target
    st: os.stat_result | None = field(default=None, compare=False, repr=False)  # as seen by the walk


def collect_files(path: str, exclude=(), skipped: list | None = None) -> list[FileEntry]:
    """The files under ``path`` (or ``path`` itself), sorted by relpath, as a log records them.

    ``exclude``: gitignore patterns to leave out besides the folder's ``.mvcignore`` and the
    defaults (store/ignore.py).  ``skipped``: a list the entries left out are appended to
    (``Skipped``), so the caller can say what it did not log."""
    if not os.path.lexists(path):
        raise InvalidInputError(f"{path} does not exist", "check the path; log a file or a folder")
    st = stat_target(path, path)
    if stat.S_ISREG(st.st_mode):
        return _single_file(path, st)
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(f"{path} is {_kind(st.st_mode)}, not a regular file or folder",
                                "log a regular file or a folder")
    walker = _Walker(path, rules_for(path, exclude), skipped if skipped is not None else [])
    out = walker.run()
    if not out:
        if walker.skipped:
            n = len(walker.skipped)
            shown = ", ".join(sk.path for sk in walker.skipped[:5]) + (", ..." if n > 5 else "")
            raise InvalidInputError(f"nothing of {path} is left to log: the ignore rules left out all {n} "
                                    f"{'entry' if n == 1 else 'entries'} ({shown})",
                                    "loosen --exclude or the folder's .mvcignore (a `!PATTERN` line brings a "
                                    "file back), or log another folder")
        raise InvalidInputError(f"{path} holds no files", "log a folder that contains at least one file")
    check_paths(path, out)
    return out


def _single_file(path: str, st: os.stat_result) -> list[FileEntry]:
    """A file named on the command line: logged under its own name (a link's name, not its
    target's) whatever the ignore rules say, since the user asked for it."""
    name = os.path.basename(os.path.abspath(path))
    out = [FileEntry(name, os.path.realpath(path), st)]
    check_paths(os.path.dirname(os.path.abspath(path)), out)
    return out


class _Walker:
    """One walk: the ignore rules, the folders on the way down (for loops) and what was left out."""

    def __init__(self, path: str, rules: IgnoreRules, skipped: list):
        self.path, self.rules, self.skipped = path, rules, skipped
        self.out: list[FileEntry] = []
        self.on_the_way: set[str] = set()  # real paths of the folders above the one being read

    def run(self) -> list[FileEntry]:
        self.walk(os.path.realpath(self.path), "")
        return self.out

    def walk(self, real_dir: str, rel: str) -> None:
        if real_dir in self.on_the_way:
            raise InvalidInputError(f"symlink loop at {os.path.join(self.path, rel)}: it leads back to {real_dir}, "
                                    "a folder it is inside", "remove the looping symlink, or exclude it (--exclude)")
        self.on_the_way.add(real_dir)
        try:
            with os.scandir(real_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
            prefix = rel + "/" if rel else ""
            plain = self.rules.spec is None  # no user patterns: most names need no rule at all
            out, S_ISREG = self.out, stat.S_ISREG
            for e in entries:
                name = e.name
                if plain and name[:1] not in _MAYBE_SKIPPED and name.isascii() and not e.is_symlink():
                    st = e.stat()  # the common case, inline: a plain file (~1 us a file less than visit)
                    if S_ISREG(st.st_mode):
                        out.append(FileEntry(prefix + name, e.path, st))
                        continue
                self.visit(e, prefix + name)
        finally:
            self.on_the_way.discard(real_dir)

    def visit(self, e: os.DirEntry, r: str) -> None:
        rules, name = self.rules, e.name
        link = e.is_symlink()
        is_dir = _link_is_dir(e.path) if link else e.is_dir()  # a dangling or looping link: not a folder
        if rules.is_vcs(name, is_dir):
            self.skipped.append(Skipped(r + "/" if is_dir else r, "vcs"))
            return
        if rules.ignored(r, name, is_dir):
            self.skipped.append(Skipped(r + "/" if is_dir else r, "ignored"))
            return
        full = e.path
        if link:  # stat'ed after the rules, so that a bad link a pattern leaves out is no error
            full = os.path.realpath(full)
            st = stat_target(e.path, os.path.join(self.path, r))
        else:
            st = e.stat()
        if stat.S_ISDIR(st.st_mode):
            self.walk(full, r)
        elif stat.S_ISREG(st.st_mode):
            self.out.append(FileEntry(r, full, st))
        else:
            shown = os.path.join(self.path, r)
            via = f" (through the symlink {shown})" if link else ""
            raise InvalidInputError(f"{full if link else shown}{via} is {_kind(st.st_mode)}, not a regular file",
                                    "remove it, exclude it (--exclude / a .mvcignore line), or log a copy")


# First characters of every name the rules without user patterns can skip: .git and the other
# version-control folders, .DS_Store, __pycache__, git~1 (is_dotgit), and any name not ASCII.
_MAYBE_SKIPPED = frozenset(".gG_")


def _link_is_dir(path: str) -> bool:
    """Whether the symlink at ``path`` leads to a folder (False if it leads nowhere or in circles)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def stat_target(path: str, shown: str) -> os.stat_result:
    """``os.stat`` (following links) with a dangling link or a loop as an error naming ``shown``."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InvalidInputError(f"symlink {shown} is dangling: its target {os.readlink(path)!r} does not exist",
                                    "fix or remove the link, or exclude it (--exclude / a .mvcignore line)") from None
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InvalidInputError(f"symlink loop at {shown}: its links lead back to each other",
                                    "fix or remove the looping link, or exclude it (--exclude / a .mvcignore line)"
                                    ) from None
        raise


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISFIFO(mode):
        return "a fifo (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def check_paths(path: str, files: list[FileEntry]) -> None:
    """Refuse, naming it, a file whose path no version may hold (mvc/paths.py; docs/format.md,
    "Paths"): use would refuse to write it.  Checked before anything is stored."""
    for fe in files:
        why = path_problem(fe.relpath)
        if why:
            hint = ("a .git folder is a repository's own files, not a model's: log a copy without it "
                    "(`git archive`, or copy the files you need)" if any(map(is_dotgit, fe.relpath.split("/")))
                    else "rename it: a version holds only names that every filesystem and git read as plain files")
            raise InvalidInputError(f"cannot log {os.path.join(path, fe.relpath)!r}: its path {why}", hint)
    clash = collision(fe.relpath for fe in files)
    if clash:
        raise InvalidInputError(f"cannot log {path}: its {clash}",
                                "rename one of them: a version must be usable on case-insensitive filesystems too")
