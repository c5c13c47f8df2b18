"""What mvc's git hooks decide (the scripts in ``hooks/`` call `mvc hooks run HOOK`):

- pre-commit: which staged files look like model weights (by extension or size);
- pre-push: which model versions the commits being pushed pin in mvc.lock;
- post-checkout / post-merge: whether to restore the pinned models (a branch checkout or a merge
  that changed mvc.lock; never a file checkout, never during a rebase).

All of it reads git through the ``git`` command, in the work tree the hook runs in."""
from __future__ import annotations

import fnmatch
import os
import re
import subprocess

from ..errors import MvcError, NotFoundError
from . import lockfile

DEFAULT_PATTERNS = ("*.safetensors", "*.pt", "*.pth", "*.bin", "*.ckpt", "*.gguf", "*.onnx", "*.h5", "*.hdf5",
                    "*.pb", "*.npz", "*.npy", "*.pkl", "*.pickle", "*.joblib", "*.tflite", "*.keras", "*.msgpack",
                    "*.mlmodel", "*.ggml", "*.caffemodel", "*.params")
DEFAULT_MAX_BYTES = 500 * 1024
_SIZE_RE = re.compile(r"(\d+)\s*([kmg]?)i?b?", re.I)


def git(*args: str, input: bytes | None = None, check: bool = True) -> bytes:
    """git's output; a failure is a typed error quoting git (outside a work tree: NotFoundError)."""
    p = subprocess.run(["git", *args], input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        said = p.stderr.decode(errors="replace").strip().splitlines()
        said = said[0] if said else f"exit {p.returncode}"
        if "not a git repository" in said or p.returncode == 129:
            raise NotFoundError(f"{os.getcwd()} is not in a git repository (`git {args[0]}` needs one)",
                                "run this inside the git repository whose hooks you mean")
        raise MvcError(f"git {' '.join(args[:2])} failed: {said}", "run the git command yourself to see why")
    return p.stdout


def config_all(key: str) -> list[str]:
    return [v for v in git("config", "--get-all", key, check=False).decode().splitlines() if v.strip()]


def parse_size(text: str) -> int:
    """'500k', '2m', '1048576', '0' (off) -> bytes (k, m, g are KiB, MiB, GiB)."""
    m = _SIZE_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a size: {text!r} (write e.g. 500k, 2m or a number of bytes)")
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]


# ---- pre-commit ----------------------------------------------------------------
def weight_rules(max_size: str | None = None) -> tuple[list[str], list[str], int]:
    """(patterns, allowed patterns, size limit in bytes; 0 = no limit) from git config
    mvc.weightPatterns (replaces the defaults), mvc.allowPatterns and mvc.maxFileSize."""
    patterns = config_all("mvc.weightPatterns") or list(DEFAULT_PATTERNS)
    allowed = config_all("mvc.allowPatterns")
    size = max_size or (config_all("mvc.maxFileSize") or [None])[-1]
    return patterns, allowed, parse_size(size) if size else DEFAULT_MAX_BYTES


def staged(files: list[str] | None = None) -> list[tuple[str, int]]:
    """(path, size in the index) of each staged addition or change (``files``: of those files)."""
    if files is None:
        raw = git("diff", "--cached", "--raw", "-z", "--no-renames", "--diff-filter=ACM").split(b"\0")
        pairs = [(raw[i + 1].decode("utf-8", "surrogateescape"), raw[i].split()[3].decode())
                 for i in range(0, len(raw) - 1, 2) if raw[i].startswith(b":")]
    else:
        out = git("ls-files", "-s", "-z", "--", *files).split(b"\0")
        pairs = [(line.split(b"\t", 1)[1].decode("utf-8", "surrogateescape"), line.split()[1].decode())
                 for line in out if b"\t" in line]
    if not pairs:
        return []
    sizes = git("cat-file", "--batch-check=%(objectsize)", input="".join(f"{o}\n" for _, o in pairs).encode())
    return [(p, int(s)) for (p, _), s in zip(pairs, sizes.decode().split())]


def weights(files: list[tuple[str, int]], patterns, allowed, limit: int) -> list[tuple[str, int, str]]:
    """(path, size, why) of each file that looks like model weights."""
    out = []
    for path, size in files:
        base = path.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatch(path, a) or fnmatch.fnmatch(base, a) for a in allowed):
            continue
        hit = next((p for p in patterns if fnmatch.fnmatch(base, p) or fnmatch.fnmatch(path, p)), None)
        if hit:
            out.append((path, size, f"matches {hit}"))
        elif limit and size > limit:
            out.append((path, size, f"over the {human(limit)} limit"))
    return out


def human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def refusal(found: list[tuple[str, int, str]]) -> str:
    lines = [f"mvc pre-commit: {len(found)} staged file{'s' if len(found) > 1 else ''} look{'s' if len(found) == 1 else ''}"
             " like model weights; version them with mvc, not git:"]
    for path, size, why in found:
        lines.append(f"  {path}  ({human(size)}, {why})")
        lines.append(f"      mvc log {_quote(path)} --name {_quote(_name(path))}")
    lines += ["then unstage them (git rm --cached FILE), list them in .gitignore, and pin the version the code",
              "uses with `mvc use NAME:vN -o DIR --save` (mvc.lock).  To commit them anyway: git commit --no-verify;",
              "the rules are git config mvc.weightPatterns, mvc.allowPatterns and mvc.maxFileSize (500k; 0: off)."]
    return "\n".join(lines)


def _name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", base).lstrip(".") or "model"
    return clean[:128]


def _quote(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_./:@=+-]+", text) else "'" + text.replace("'", "'\\''") + "'"


# ---- pre-push -------------------------------------------------------------------
ZERO = re.compile(r"0+")


def pushed_lock_commits(remote: str, lines: list[str]) -> list[str]:
    """The commits being pushed (pre-push's stdin ``lines``) that change mvc.lock."""
    out: list[str] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or ZERO.fullmatch(parts[1]):
            continue
        _, lsha, _, rsha = parts
        ranges = ([f"{rsha}..{lsha}"] if not ZERO.fullmatch(rsha) else []) + [f"{lsha} --not --remotes={remote}"]
        for spec in ranges:
            p = subprocess.run(["git", "rev-list", *spec.split(), "--", lockfile.NAME], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
            if p.returncode == 0:
                out += [c for c in p.stdout.split() if c not in out]
                break
    return out


def pre_commit_ref_lines() -> list[str]:
    """pre-push input as the pre-commit framework gives it (environment, no stdin)."""
    to = os.environ.get("PRE_COMMIT_TO_REF")
    if not to:
        return []
    frm = os.environ.get("PRE_COMMIT_FROM_REF") or "0" * 40
    return [f"HEAD {git('rev-parse', to).decode().strip()} {to} {git('rev-parse', frm, check=False).decode().strip() or '0' * 40}"]


DEFAULT_REMOTE = "origin"  # `mvc push`'s default, named: its first argument is the remote


def pins_to_push(remote: str, lines: list[str]) -> dict[str, list[str]]:
    """mvc remote name (the pin's, else origin) -> addresses (``project/name@digest``) of every
    model version that a commit being pushed pins, in first-seen order."""
    out: dict[str, list[str]] = {}
    for commit in pushed_lock_commits(remote, lines):
        text = git("show", f"{commit}:{lockfile.NAME}", check=False)
        if not text:
            continue  # the commit deleted mvc.lock
        for pin in lockfile.parse(text.decode("utf-8", "replace"), f"{lockfile.NAME} of commit {commit[:12]}"):
            addr = pin.push_address()
            target = out.setdefault(pin.remote or DEFAULT_REMOTE, [])
            if addr not in target:
                target.append(addr)
    return out


# ---- post-checkout / post-merge ---------------------------------------------------
def rebasing() -> bool:
    if "rebase" in os.environ.get("GIT_REFLOG_ACTION", ""):
        return True
    for name in ("rebase-merge", "rebase-apply"):
        path = git("rev-parse", "--git-path", name, check=False).decode().strip()
        if path and os.path.isdir(path):
            return True
    return False


def lock_changed(old: str, new: str) -> bool:
    if not old or ZERO.fullmatch(old):
        return True  # a clone's first checkout: everything is new
    p = subprocess.run(["git", "diff", "--quiet", old, new, "--", lockfile.NAME],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p.returncode != 0


def checkout_restores(args: list[str]) -> bool:
    """post-checkout PREV NEW FLAG: restore only on a branch checkout (FLAG 1) that changed
    mvc.lock, never on a file checkout (FLAG 0) or during a rebase."""
    if len(args) < 3 or args[2] != "1" or rebasing():
        return False
    return lock_changed(args[0], args[1]) and os.path.exists(lockfile.NAME)


def merge_restores() -> bool:
    """post-merge: restore when the merge changed mvc.lock (ORIG_HEAD to HEAD), not in a rebase."""
    if rebasing():
        return False
    orig = git("rev-parse", "-q", "--verify", "ORIG_HEAD", check=False).decode().strip()
    return bool(orig) and lock_changed(orig, "HEAD") and os.path.exists(lockfile.NAME)
