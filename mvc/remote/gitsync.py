"""Metadata over git: list a remote's refs, fetch some of them into the incoming namespace,
and move remote refs, with no lost update on any transport (docs/design.md, "Remotes").

Facts measured with pygit2 1.21 / libgit2 1.9.7 that shape this module:
- libgit2's local transport (a path or file://) writes the remote ref without comparing
  its old value, so a racing pusher's update would be lost.  A path remote is therefore
  opened as a repository: missing objects are copied (children before parents, so a
  present tree implies its whole subtree), then each ref moves by compare-and-swap
  (``references.create(force=False)`` or ``Reference.set_target``, which libgit2 checks
  against the target it read, under the ref's lock).
- over git:// and HTTP a rejected ref is reported only to the ``push_update_reference``
  callback and ``Remote.push`` raises nothing: any message there is a failed ref.
  git's receive-pack checks each ref's old value under its lock, so the smart transports
  are compare-and-swap per ref; a push is not atomic across refs.
- push refspecs cannot be globs (fetch ones can): one explicit refspec per ref."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from ..meta.pygit import pygit2

from ..errors import RemoteError
from ..meta import refstore
from .remotes import CONFIG_REF, INCOMING, RemoteConfig, incoming_ref, local_path

PREFIXES = ("refs/mvc/", CONFIG_REF)
MOVED = "the remote moved since it was listed: "  # a failed ref to retry after a fetch, never a hard rejection
GLOB_ABOVE = 64  # fetch with one glob refspec beyond this many refs (libgit2 matches refs x refspecs)


@contextlib.contextmanager
def no_fsync(on: bool = True):
    """libgit2 writes refs without fsync meanwhile: for mvc's own bookkeeping refs (incoming,
    remote-tracking), a cache a fetch rebuilds, never the store's own refs."""
    if not on:
        yield
        return
    pygit2.settings.enable_fsync_gitdir(False)
    try:
        yield
    finally:
        pygit2.settings.enable_fsync_gitdir(True)


class _Auth(pygit2.RemoteCallbacks):
    """Credentials and host checks shared by every connection (listing, fetch, push)."""

    def credentials(self, url, username_from_url, allowed_types):
        """ssh: the user's agent (mvc holds no key); http: git's own helpers are not reachable from
        libgit2, so a server that asks for a password is an error naming the way out."""
        if allowed_types & pygit2.enums.CredentialType.SSH_KEY:
            if not os.environ.get("SSH_AUTH_SOCK"):  # libgit2 would retry and say only "Failed getting response"
                raise RemoteError(f"{url} needs an ssh key and no ssh-agent is running (SSH_AUTH_SOCK is not set)",
                                  "start one and add your key: eval \"$(ssh-agent)\" && ssh-add; mvc reads "
                                  "keys only from ssh-agent")
            return pygit2.KeypairFromAgent(username_from_url or "git")
        raise RemoteError(f"{url} asks for credentials, which mvc does not store",
                          "use ssh:// with a key in ssh-agent, or a server that lets this host in")

    def certificate_check(self, certificate, valid, host):
        """Trust what libgit2 verified: a TLS chain, or an ssh host key found in ~/.ssh/known_hosts.
        pygit2's default accepts every ssh host key (unknown or changed), so it is not left to it."""
        if valid:
            return True
        name = host.decode(errors="replace") if isinstance(host, bytes) else str(host)
        raise RemoteError(f"the host key or certificate of {name} is not trusted (unknown or changed)",
                          f"if {name} is the server you mean, add its key to ~/.ssh/known_hosts "
                          "(ssh-keyscan, or connect once with ssh) and check its fingerprint; "
                          "nothing was sent")


class _Callbacks(_Auth):
    """Collects rejected refs (the only place a smart transport reports them) and byte counts."""

    def __init__(self, progress=None):
        super().__init__()
        self.rejected: dict[str, str] = {}
        self.progress = progress
        self._sent = 0
        self.objects = 0

    def push_update_reference(self, refname, message):
        if message:
            self.rejected[refname] = (MOVED + message) if _contention(message) else message

    def push_transfer_progress(self, objects_pushed, total_objects, bytes_pushed):
        self.objects = max(self.objects, objects_pushed)
        if self.progress is not None and bytes_pushed > self._sent:
            self.progress(bytes_pushed - self._sent)
            self._sent = bytes_pushed


def _transport_error(cfg: RemoteConfig, what: str, e: Exception) -> RemoteError:
    ssh = ("; over ssh, keys come from ssh-agent only (`ssh-add -l` lists them) and the server must "
           "accept one of them") if cfg.kind == "ssh" else ""
    return RemoteError(f"could not {what} remote {cfg.name} ({cfg.url}): {e}",
                       "check the URL (`mvc remote ls`), that the server runs and that you may "
                       f"read (and, for push, write) it{ssh}; nothing was changed here")


class GitRemote:
    """One remote's metadata repository, reached the way its URL says."""

    def __init__(self, git: pygit2.Repository, cfg: RemoteConfig):
        self.git = git
        self.cfg = cfg
        self.path = local_path(cfg.url) if cfg.kind == "path" else None
        self._dst: pygit2.Repository | None = None
        self.objects_sent = 0  # git objects a push sent (copied, for a path remote)

    # ---- listing -------------------------------------------------------------
    def heads(self) -> dict[str, str]:
        """ref -> hex id of every mvc ref the remote advertises (refs/mvc/* and CONFIG_REF)."""
        if self.path is not None:
            self._open_path()
            out = dict(refstore.read_refs(self.path, "refs/mvc/").good)
            oid, _ = refstore.read_one(self.path, CONFIG_REF)
            if oid:
                out[CONFIG_REF] = oid
            return out
        try:
            heads = self._anonymous().list_heads(callbacks=_Callbacks())
        except (pygit2.GitError, OSError) as e:
            raise _transport_error(self.cfg, "list the refs of", e) from None
        return {h.name: str(h.oid) for h in heads if h.name.startswith(PREFIXES)}

    def _anonymous(self) -> pygit2.Remote:
        return self.git.remotes.create_anonymous(self.cfg.url)

    def _open_path(self) -> pygit2.Repository:
        if self._dst is None:
            try:
                self._dst = pygit2.Repository(self.path)
            except (pygit2.GitError, OSError) as e:
                raise RemoteError(f"remote {self.cfg.name}: {self.path} is not a git repository ({e})",
                                  f"create it with `git init --bare {self.path}`, or fix the URL "
                                  f"(`mvc remote rm {self.cfg.name}` and add it again)") from None
        return self._dst

    # ---- fetching ------------------------------------------------------------
    def fetch(self, refnames: list[str], known: dict[str, str], progress=None) -> None:
        """Bring the objects of ``refnames`` here, unchecked and unreferenced (the caller checks
        them and then moves its own refs).  libgit2 fetches into a quarantine repository under
        tmp/ that borrows this store's objects (alternates) and knows its refs ``known`` (so
        only what is new travels); its packs move into the store only once complete, pack
        before index, so a fetch killed at any point leaves no pack index without its pack
        (which would stop every read of the store)."""
        if not refnames:
            return
        quarantine = Quarantine(self.git.path, known)
        try:
            few = len(refnames) <= GLOB_ABOVE
            specs = list(refnames) if few else [f"+refs/mvc/*:{INCOMING}{self.cfg.name}/mvc/*",
                                                f"+{CONFIG_REF}:{incoming_ref(self.cfg.name, CONFIG_REF)}"]
            try:
                with no_fsync(not few):  # incoming refs live in the quarantine only
                    quarantine.repo.remotes.create_anonymous(self.cfg.url).fetch(
                        specs, callbacks=_FetchCallbacks(progress))
            except (pygit2.GitError, OSError) as e:
                raise _transport_error(self.cfg, "fetch from", e) from None
            quarantine.publish(self.git)
        finally:
            quarantine.remove()

    # ---- pushing -------------------------------------------------------------
    def push(self, updates: dict[str, tuple[str | None, str]], progress=None) -> dict[str, str]:
        """Move each remote ref from old (None: absent) to new, where new is the target of the
        same-named local ref.  Returns ref -> why it did not move, for the refs that did not."""
        if not updates:
            return {}
        if self.path is not None:
            return self._push_path(updates)
        cb = _Callbacks(progress)
        specs = [f"{ref}:{ref}" for ref in updates]
        try:
            self._anonymous().push(specs, callbacks=cb)
            self.objects_sent += cb.objects
        except (pygit2.GitError, OSError) as e:
            text = str(e)
            if "fastforward" in text or "not present locally" in text or "rejected" in text:
                return {ref: MOVED + text for ref in updates}  # libgit2 refused the batch before sending it
            raise _transport_error(self.cfg, "push to", e) from None
        return dict(cb.rejected)

    def _push_path(self, updates: dict[str, tuple[str | None, str]]) -> dict[str, str]:
        dst = self._open_path()
        failed: dict[str, str] = {}
        for ref, (old, new) in updates.items():
            self.objects_sent += copy_objects(self.git, dst, pygit2.Oid(hex=new))
            why = cas(dst, ref, old, new)
            if why:
                failed[ref] = why
        return failed


class _FetchCallbacks(_Auth):
    def __init__(self, progress=None):
        super().__init__()
        self.progress = progress
        self._got = 0

    def transfer_progress(self, stats):
        if self.progress is not None and stats.received_bytes > self._got:
            self.progress(stats.received_bytes - self._got)
            self._got = stats.received_bytes


def cas(dst: pygit2.Repository, ref: str, old: str | None, new: str, message: str = "mvc push") -> str | None:
    """Compare-and-swap ``ref`` in ``dst`` from ``old`` to ``new``; None when it moved, else why not."""
    try:
        if old is None:
            dst.references.create(ref, new, force=False)
            return None
        current = dst.references[ref]
        if str(current.target) != old:
            return f"{MOVED}it is at {current.target} now"
        current.set_target(new, message)  # libgit2 compares with the target read above, under the lock
        return None
    except pygit2.AlreadyExistsError:
        return MOVED + "it was created meanwhile"
    except KeyError:
        return MOVED + "it was deleted meanwhile"
    except (pygit2.GitError, OSError) as e:
        return (MOVED + str(e)) if _contention(str(e)) else str(e)


def _contention(text: str) -> bool:
    """Another writer held or moved the ref (retry after a fetch), as opposed to a refusal."""
    text = text.lower()
    return any(w in text for w in ("lock", "old reference value", "fetch first", "non-fast-forward", "stale info"))


def copy_objects(src: pygit2.Repository, dst: pygit2.Repository, oid: pygit2.Oid) -> int:
    """Copy every object reachable from ``oid`` that ``dst`` lacks, children before parents (a
    present tree or commit implies everything below it).  Returns how many were written."""
    odb_dst, odb_src = dst.odb, src.odb
    stack: list[tuple[pygit2.Oid, bool]] = [(oid, False)]
    seen: set[pygit2.Oid] = set()
    written = 0
    while stack:
        o, ready = stack.pop()
        if odb_dst.exists(o):
            continue
        if ready:
            kind, data = odb_src.read(o)
            odb_dst.write(kind, data)
            written += 1
            continue
        if o in seen:
            continue
        seen.add(o)
        stack.append((o, True))
        stack.extend((c, False) for c in _children(src[o]))
    return written


def _children(obj) -> list[pygit2.Oid]:
    if obj.type == pygit2.GIT_OBJECT_COMMIT:
        return [obj.tree_id, *obj.parent_ids]
    if obj.type == pygit2.GIT_OBJECT_TREE:
        return [e.id for e in obj if e.type != pygit2.GIT_OBJECT_COMMIT]
    if obj.type == pygit2.GIT_OBJECT_TAG:
        return [obj.target]
    return []


class Quarantine:
    """A bare repository under <store>/tmp/ for one fetch: objects/info/alternates points at
    the store's objects, packed-refs lists the store's refs (libgit2 tells the server it has
    them).  ``publish`` moves what arrived into the store: loose objects through the odb,
    then each pack, its .pack renamed before its .idx."""

    def __init__(self, store: str, known: dict[str, str]):
        self.path = tempfile.mkdtemp(prefix="fetch-", suffix=".git", dir=_tmp_dir(store))
        self.repo = pygit2.init_repository(self.path, bare=True)
        with open(os.path.join(self.path, "objects", "info", "alternates"), "w") as f:
            f.write(os.path.join(os.path.abspath(store), "objects") + "\n")
        lines = "".join(f"{oid} {ref}\n" for ref, oid in sorted(known.items()) if oid)
        with open(os.path.join(self.path, "packed-refs"), "w") as f:
            f.write("# pack-refs with: peeled fully-peeled sorted \n" + lines)
        self.repo = pygit2.Repository(self.path)

    def publish(self, store: pygit2.Repository) -> None:
        objects = os.path.join(self.path, "objects")
        for fan in sorted(os.listdir(objects)):
            if len(fan) == 2:
                for name in os.listdir(os.path.join(objects, fan)):
                    kind, data = self.repo.odb.read(pygit2.Oid(hex=fan + name))
                    store.odb.write(kind, data)
        src, dst = os.path.join(objects, "pack"), os.path.join(store.path, "objects", "pack")
        os.makedirs(dst, exist_ok=True)
        for idx in sorted(n for n in os.listdir(src) if n.endswith(".idx")):
            stem = idx[:-4]
            for ext in (".pack", ".rev", ".idx"):
                if os.path.exists(os.path.join(src, stem + ext)):
                    _durable_rename(os.path.join(src, stem + ext), os.path.join(dst, stem + ext))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _tmp_dir(store: str) -> str:
    path = os.path.join(store, "tmp")
    os.makedirs(path, exist_ok=True)
    return path


def _durable_rename(src: str, dst: str) -> None:
    with open(src, "rb") as f:
        os.fsync(f.fileno())
    os.replace(src, dst)
    fd = os.open(os.path.dirname(dst), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
