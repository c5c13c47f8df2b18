"""Writing git objects and moving refs in Python, as libgit2 did for mvc (docs/design.md,
"Writes without pygit2").

`import pygit2` costs 95-124 ms of every command that writes (docs/performance.md), more than
the whole of an unchanged `mvc log` once it has hashed its files; the writes themselves are
a few small objects and one ref.  This module writes them with the guarantees libgit2 gave
under mvc's setting (``pygit2.settings.enable_fsync_gitdir``):

- a loose object is ``objects/xx/<38 hex>``, the zlib stream (level 1, git's
  ``core.looseCompression``) of ``<type> <size>\\0<data>``, written to a temp file in
  ``objects/`` named as libgit2 names its own (``tmp_object_git2_...``, which gc clears),
  fsynced, renamed into place, its folder fsynced (and ``objects/`` when the folder was
  made), mode 0444.  An object that exists already is not rewritten but "freshened" (its
  pack or file touched), as libgit2 does; only a touch that fails (a read-only store) falls
  through to a write, which then fails as libgit2's did.
- trees in git's entry order, commits in libgit2's layout (``tree``, ``parent``s,
  ``author``, ``committer``, a blank line, the message verbatim), signatures as
  ``Name <email> <epoch> <+hhmm>`` with the local UTC offset, name and email trimmed and
  checked as libgit2's ``git_signature_new`` does.
- a ref moves by git's lock protocol: ``<gitdir>/<refname>.lock`` made with O_CREAT|O_EXCL
  (the path libgit2 and git use, so mvc/meta/locks.py and `mvc unlock` still apply), the
  ref re-read under the lock (loose file, else packed-refs: mvc/meta/refstore.py) and
  compared with the expected old value, ``<hex>\\n`` written, fsynced, renamed over the ref,
  the folder fsynced.  No reflog: libgit2 writes none in a bare repository unless
  ``core.logAllRefUpdates`` is set, which mvc never sets (a store's config is mvc's own).

Ids are hex strings throughout (mvc/meta/odb.py's ``object_id``)."""
from __future__ import annotations

import os
import time
import zlib

from ..fsutil import fsync_dir, temp_path, write_all
from . import refstore
from .locks import lock_path
from .odb import FILEMODE_TREE, Signature, loose_bytes, sha1

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Callable

LOOSE_LEVEL = 1          # zlib level of a loose object: git's core.looseCompression default, and libgit2's
TEMP_PREFIX = "tmp_object_git2_"  # libgit2's temp name in objects/: mvc/repo/gc.py clears what a killed writer left
FRESHEN_EVERY_S = 2.0    # libgit2 touches a pack at most this often per process (FRESHEN_FREQUENCY)
MOVED, LOCKED, STALE = "moved", "locked", "stale"  # what ``swap_ref`` did

_freshened: dict[str, float] = {}  # pack path -> when this process last touched it


class DamagedRef(ValueError):
    """The ref (or packed-refs) read under the lock does not parse; the text says why."""


class BadSignature(ValueError):
    """A name or email libgit2 would refuse in a signature; the text says why."""


# ---- objects -------------------------------------------------------------------------------------
def write_object(objects_dir: str, kind: int, data: bytes,
                 packed: Callable[[str, bool], str | None] | None = None) -> tuple[str, bool]:
    """Store one object; (hex id, True if this call wrote its file, False if it existed and was
    freshened).  ``packed(oid, look_again)`` gives the pack file holding an id, or None; with
    ``look_again`` after looking for packs made since (libgit2's order: the packs, the loose
    file, the packs again after a refresh, then a write)."""
    raw = loose_bytes(kind, data)
    oid = sha1(raw).hexdigest()
    if packed is not None and _freshen_pack(packed(oid, False)):
        return oid, False
    path = os.path.join(objects_dir, oid[:2], oid[2:])
    if _touch(path) or (packed is not None and _freshen_pack(packed(oid, True))):
        return oid, False
    write_loose(objects_dir, path, zlib.compress(raw, LOOSE_LEVEL))
    return oid, True


def _touch(path: str) -> bool:
    """Set ``path``'s times to now; False if it does not exist or cannot be touched."""
    try:
        os.utime(path)
    except OSError:
        return False
    return True


def _freshen_pack(pack: str | None) -> bool:
    """Touch ``pack`` (at most every FRESHEN_EVERY_S per process, as libgit2); False if there is
    none or it cannot be touched."""
    if pack is None:
        return False
    now = time.time()
    if now - _freshened.get(pack, 0.0) < FRESHEN_EVERY_S:
        return True
    if not _touch(pack):
        return False
    _freshened[pack] = now
    return True


def write_loose(objects_dir: str, path: str, body: bytes) -> None:
    """temp in ``objects_dir`` -> write -> fsync -> rename to ``path`` -> fsync its folder.
    A failure removes the temp: no half-written object is ever visible."""
    tmp = os.path.join(objects_dir, TEMP_PREFIX + os.path.basename(temp_path("", path[-38:])))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    try:
        try:
            write_all(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        folder = os.path.dirname(path)
        _make_folders(folder)  # objects/xx, objects/ fsynced when it is new
        os.rename(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    fsync_dir(folder)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def tree_bytes(entries: dict[str, tuple[int, str]]) -> bytes:
    """A tree object's body from name -> (mode, hex id), in git's order: names compared as
    bytes, a folder's with a '/' after it."""
    def key(name: str) -> bytes:
        raw = name.encode("utf-8", "surrogateescape")
        return raw + b"/" if entries[name][0] == FILEMODE_TREE else raw
    return b"".join(b"%o %s\0%s" % (entries[n][0], n.encode("utf-8", "surrogateescape"), bytes.fromhex(entries[n][1]))
                    for n in sorted(entries, key=key))


def entry_name_problem(name: str) -> str | None:
    """Why libgit2's tree builder would refuse ``name`` (empty, '.', '..', '.git', a '/' or NUL)."""
    if not name or name in (".", "..") or "/" in name or "\0" in name or name.lower() == ".git":
        return f"{name!r} is not a valid name for a git tree entry"
    return None


# ---- commits and signatures --------------------------------------------------------------
_CRUD = frozenset(",:;<>\"\\'")


def _trimmed(text: str) -> str:
    """libgit2's ``extract_trimmed``: control characters, spaces and ,:;<>"\\' cut from both ends
    (not '.': measured against pygit2 1.21.0 / libgit2 1.9.7, tests/test_meta_writer.py)."""
    def crud(c: str) -> bool:
        return ord(c) <= 32 or c in _CRUD
    start, end = 0, len(text)
    while start < end and crud(text[start]):
        start += 1
    while end > start and crud(text[end - 1]):
        end -= 1
    return text[start:end]


def signature(name: str, email: str, when: float | None = None, offset: int | None = None) -> Signature:
    """A signature as libgit2's ``git_signature_now``/``git_signature_new`` makes it: no angle
    brackets (BadSignature), both trimmed, neither empty; now and the local UTC offset by default."""
    if any(c in s for s in (name, email) for c in "<>"):
        raise BadSignature("neither the name nor the email of a commit's author may contain '<' or '>' "
                           f"(got {name!r} <{email}>)")
    if "\0" in name or "\0" in email or "\n" in name or "\n" in email:
        raise BadSignature(f"the name and email of a commit's author are one line each (got {name!r} <{email!r}>)")
    name, email = _trimmed(name), _trimmed(email)
    if not name or not email:
        raise BadSignature("a commit's author needs a name and an email that are not empty")
    now = int(time.time() if when is None else when)
    if offset is None:
        offset = time.localtime(now).tm_gmtoff // 60
    return Signature(name, email, now, offset)


def signature_line(sig) -> bytes:
    """``Name <email> <epoch> <+hhmm>`` (libgit2's ``git_signature__writebuf``)."""
    sign = "-" if sig.offset < 0 else "+"
    hours, minutes = divmod(abs(sig.offset), 60)
    return f"{sig.name} <{sig.email}> {int(sig.time)} {sign}{hours:02d}{minutes:02d}".encode()


def commit_bytes(tree: str, parents: list[str], author, committer, message: str) -> bytes:
    """A commit object's body as libgit2's ``git_commit_create`` writes it (no encoding header)."""
    if "\0" in message:
        raise ValueError("a commit message cannot hold a NUL byte")
    head = [b"tree " + tree.encode()] + [b"parent " + str(p).encode() for p in parents]
    head += [b"author " + signature_line(author), b"committer " + signature_line(committer)]
    return b"\n".join(head) + b"\n\n" + message.encode()


# ---- refs --------------------------------------------------------------------------------
def _take_lock(lock: str) -> int | None:
    """The descriptor of a new ``lock`` file, or None if it exists (another writer holds it)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        return os.open(lock, flags, 0o666)
    except FileExistsError:
        return None
    except FileNotFoundError:  # the ref's folder does not exist yet
        _make_folders(os.path.dirname(lock))
    try:
        return os.open(lock, flags, 0o666)
    except FileExistsError:
        return None


def _make_folders(folder: str) -> None:
    """``os.makedirs``, each new folder's parent fsynced so that a power cut cannot lose the
    folder of a ref or of loose objects just created (libgit2 did not fsync a ref's)."""
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        fsync_dir(os.path.dirname(path))


def _fill_lock(fd: int, data: bytes) -> None:
    """The new value into the lock file, on disk before the rename publishes it."""
    write_all(fd, data)
    os.fsync(fd)


def swap_ref(gitdir: str, refname: str, old: str | None, new: str) -> str:
    """Move ``refname`` from ``old`` (None: it must not exist) to ``new`` by git's lock
    protocol; MOVED, or LOCKED (another writer holds the lock) or STALE (the ref is not at
    ``old``), which leave everything as it was.  An OSError (a full or read-only disk) leaves
    the ref as it was and no lock behind; DamagedRef if the ref read under the lock does not parse."""
    lock = lock_path(gitdir, refname)
    fd = _take_lock(lock)
    if fd is None:
        return LOCKED
    try:
        try:
            current, why = refstore.read_target(gitdir, refname)
            if why is not None:
                raise DamagedRef(why)
            if current == old:
                _fill_lock(fd, new.encode() + b"\n")
        finally:
            os.close(fd)
        if current != old:
            _unlink(lock)
            return STALE
        os.rename(lock, lock[:-5])
    except BaseException:
        _unlink(lock)
        raise
    fsync_dir(os.path.dirname(lock))
    return MOVED


def compare_and_swap(gitdir: str, refname: str, old: str | None, new: str) -> bool:
    """``swap_ref``, True if the ref moved; False if another writer won (held lock or moved ref)."""
    return swap_ref(gitdir, refname, old, new) == MOVED


# ---- git's user.name and user.email ---------------------------------------------------------
def git_config_files() -> list[str]:
    """The files git reads user.name and user.email from outside a repository, lowest
    priority first (a later one wins): /etc/gitconfig, $XDG_CONFIG_HOME/git/config (or
    ~/.config/git/config), ~/.gitconfig.  GIT_CONFIG_NOSYSTEM drops the first and
    GIT_CONFIG_GLOBAL replaces the other two, as with git."""
    home = os.path.expanduser("~")
    files = [] if os.environ.get("GIT_CONFIG_NOSYSTEM", "") not in ("", "0", "false") else ["/etc/gitconfig"]
    if os.environ.get("GIT_CONFIG_GLOBAL"):
        return files + [os.environ["GIT_CONFIG_GLOBAL"]]
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return files + [os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")]


def git_user(files: list[str] | None = None) -> dict[str, str]:
    """{"name", "email"} as far as set in section [user] of git's config files (later files
    and later lines winning).  Reads nothing else: no include/includeIf, no [user "x"]."""
    found: dict[str, str] = {}
    for path in git_config_files() if files is None else files:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        found.update(parse_user(text))
    return found


def parse_user(text: str) -> dict[str, str]:
    """user.name and user.email of one git config file's text, read by git's own rules:
    sections and keys case-insensitive, '#' and ';' comments, values trimmed with inner
    whitespace kept as single spaces, double quotes, the escapes \\" \\\\ \\n \\t \\b and a
    backslash before a newline continuing the line.  A line that does not parse is skipped."""
    out: dict[str, str] = {}
    section, i, n = None, 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n\f\v":
            i += 1
        if i >= n:
            break
        c = text[i]
        if c in "#;":
            i = _line_end(text, i)
            continue
        if c == "[":
            close = text.find("]", i)
            newline = text.find("\n", i)
            if close < 0 or (0 <= newline < close):
                section, i = None, _line_end(text, i)
                continue
            header = text[i + 1:close].strip()
            section = header.lower() if '"' not in header and " " not in header else None
            i = close + 1
            continue
        j = i
        while j < n and (text[j].isalnum() or text[j] == "-"):
            j += 1
        key = text[i:j].lower()
        k = j
        while k < n and text[k] in " \t":
            k += 1
        if not key or k >= n or text[k] != "=":  # a bare key (boolean true) or a line that does not parse
            i = _line_end(text, j)
            continue
        value, i = _value(text, k + 1)
        if value is not None and section == "user" and key in ("name", "email"):
            out[key] = value
    return out


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end + 1


_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "\\": "\\", '"': '"'}


def _value(text: str, i: int) -> tuple[str | None, int]:
    """git's ``parse_value`` from ``i``: (value or None if it does not parse, index after its line)."""
    out: list[str] = []
    quote = comment = False
    spaces, n = 0, len(text)
    while i < n:
        c = text[i]
        i += 1
        if c == "\n":
            return (None if quote else "".join(out)), i
        if comment:
            continue
        if c.isspace() and not quote:
            if out:
                spaces += 1
            continue
        if not quote and c in "#;":
            comment = True
            continue
        out.append(" " * spaces)
        spaces = 0
        if c == "\\":
            nxt = text[i] if i < n else ""
            i += 1
            if nxt == "\n":
                continue
            if nxt == "\r" and text[i:i + 1] == "\n":
                i += 1
                continue
            if nxt not in _ESCAPES:
                return None, _line_end(text, i - 1)
            out.append(_ESCAPES[nxt])
            continue
        if c == '"':
            quote = not quote
            continue
        out.append(c)
    return (None if quote else "".join(out)), n
