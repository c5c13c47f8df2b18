"""Named remotes, kept in the store's git config as git keeps them:

    [remote "origin"]
        url = git://host/models.git          the metadata (any git URL libgit2 reaches)
        mvcstorage = s3://bucket/prefix       the bytes (s3:// or a folder)

The storage URL is also recorded in the remote's own metadata (``CONFIG_REF``), so that
`mvc clone URL` needs nothing else.  Credentials are never written: a URL with a password
in it is refused (boto3's chain and git's credential helpers hold them)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from ..errors import InvalidInputError, NotFoundError
from ..names import REMOTE_NAME, check_remote_name

CONFIG_REF = "refs/mvc-remote/config"   # on the remote: a commit whose tree holds remote.json
TRACKING = "refs/mvc-remotes/"          # here: refs/mvc-remotes/<name>/<ref without refs/mvc/>
INCOMING = "refs/mvc-incoming/"         # here: fetched, not yet checked
GIT_SCHEMES = ("git", "http", "https", "ssh", "file")


@dataclass
class RemoteConfig:
    name: str
    url: str
    storage: str | None

    @property
    def kind(self) -> str:
        """'path' (a bare repository on a filesystem: path or file://), or the URL scheme."""
        return url_kind(self.url)

    def to_json(self) -> dict:
        return {"name": self.name, "url": self.url, "storage": self.storage, "kind": self.kind}


# git's scp-like syntax, `[user@]host:path`: recognised only with no slash before the first colon,
# which is what tells it from a local path holding a colon (git-clone(1), "GIT URLS").
_SCP = re.compile(r"(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9._-]+:(?!//)")


def is_scp(url: str) -> bool:
    head = url.split(":", 1)[0]
    return bool(_SCP.match(url)) and head.split("@")[-1] not in (*GIT_SCHEMES, "s3") and len(head) > 1


def url_kind(url: str) -> str:
    if is_scp(url):
        return "ssh"
    u = urlparse(url)
    if u.scheme in ("", "file") or (len(u.scheme) == 1 and os.name == "nt"):
        return "path"
    return u.scheme


def local_path(url: str) -> str:
    """The folder a path or file:// URL names."""
    u = urlparse(url)
    return os.path.abspath(u.path if u.scheme == "file" else url)


def check_git_url(url: str) -> str:
    """A metadata URL mvc can use, normalised (a path made absolute); no credentials in it."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError("the remote URL is empty", "give a path, file://, git://, http(s):// or ssh:// URL")
    if is_scp(url):  # user@host:path, as git takes it: ssh, passed to libgit2 as written
        if re.match(r"[^/:@]+:[^/@]*@", url):  # user:secret@host:path
            raise InvalidInputError("the URL holds a password; mvc never writes one to a store",
                                    "remove it and let ssh-agent supply the key")
        return url
    u = urlparse(url)
    if u.scheme and u.scheme not in GIT_SCHEMES and not (len(u.scheme) == 1 and os.name == "nt"):
        raise InvalidInputError(f"{url!r}: mvc cannot reach a {u.scheme}:// metadata remote",
                                "use a path or file:// (a bare repository), git://, http(s):// or ssh://")
    _refuse_password(url)
    return local_path(url) if url_kind(url) == "path" and not u.scheme else url


def check_storage_url(url: str | None) -> str | None:
    """An s3:// or folder storage URL, normalised (a folder made absolute); no credentials in it."""
    if url is None:
        return None
    u = urlparse(url)
    if u.scheme == "s3":
        if not u.netloc:
            raise InvalidInputError(f"{url!r} names no bucket", "write s3://BUCKET[/PREFIX]")
        if u.query or "@" in u.netloc:
            raise InvalidInputError(f"{url!r}: an s3:// storage URL holds a bucket and a prefix only",
                                    "credentials and endpoints come from boto3's own chain (AWS_ENDPOINT_URL, "
                                    "AWS_PROFILE, ~/.aws); nothing secret is written to the store")
        return url.rstrip("/")
    if u.scheme in ("", "file"):
        return "file://" + local_path(url) if u.scheme == "file" else local_path(url)
    raise InvalidInputError(f"{url!r}: mvc stores bytes in s3:// or in a folder, not {u.scheme}://",
                            "give s3://BUCKET/PREFIX or a folder path")


def _refuse_password(url: str) -> None:
    u = urlparse(url)
    if u.password:
        raise InvalidInputError(f"the URL for {u.hostname} holds a password; mvc never writes one to a store",
                                "remove it from the URL and let git's credential helper or ssh-agent supply it")


def _section(name: str) -> str:
    return f"remote.{name}"


def read_all(git) -> dict[str, RemoteConfig]:
    """Every remote in the store's git config (``git`` a pygit2.Repository)."""
    out: dict[str, RemoteConfig] = {}
    cfg = git.config
    for entry in cfg:
        m = re.fullmatch(r"remote\.(.+)\.url", entry.name)
        if m and REMOTE_NAME.fullmatch(m.group(1)):
            name = m.group(1)
            out[name] = RemoteConfig(name, entry.value, _get(cfg, f"{_section(name)}.mvcstorage"))
    return dict(sorted(out.items()))


def _get(cfg, key: str) -> str | None:
    try:
        return cfg[key]
    except KeyError:
        return None


def get(git, name: str | None) -> RemoteConfig:
    """The remote ``name`` (None: the setting remote.default, MVC_REMOTE, else origin)."""
    if not name:
        from .. import settings
        name = settings.get("remote.default", git.path.rstrip("/")) or "origin"
        default = True
    else:
        default = False
    found = read_all(git).get(name)
    if found is None:
        raise NotFoundError(f"no remote named {name!r}" + (" (the default: remote.default)" if default else ""),
                            "add one with `mvc remote add NAME URL [--storage URL]`; `mvc remote ls` lists them")
    return found


def add(git, name: str, url: str, storage: str | None = None) -> RemoteConfig:
    check_remote_name(name)
    url = check_git_url(url)
    storage = check_storage_url(storage)
    if name in read_all(git):
        raise InvalidInputError(f"remote {name!r} exists already",
                                f"remove it first with `mvc remote rm {name}`, or choose another name")
    cfg = git.config
    cfg[f"{_section(name)}.url"] = url
    cfg[f"{_section(name)}.fetch"] = f"+refs/mvc/*:{TRACKING}{name}/*"
    if storage:
        cfg[f"{_section(name)}.mvcstorage"] = storage
    return RemoteConfig(name, url, storage)


def set_storage(git, name: str, storage: str) -> None:
    git.config[f"{_section(name)}.mvcstorage"] = check_storage_url(storage)


def remove(git, name: str) -> RemoteConfig:
    """Forget a remote and its remote-tracking refs (nothing on the remote is touched)."""
    found = get(git, name)
    for key in ("url", "fetch", "mvcstorage", "pushurl"):
        try:
            del git.config[f"{_section(name)}.{key}"]
        except KeyError:
            pass
    for prefix in (f"{TRACKING}{name}/", f"{INCOMING}{name}/"):
        for ref in [r for r in git.references if r.startswith(prefix)]:
            git.references.delete(ref)
    return found


def tracking_ref(remote: str, refname: str) -> str:
    """refs/mvc/<rest> -> refs/mvc-remotes/<remote>/<rest>."""
    return f"{TRACKING}{remote}/{refname[len('refs/mvc/'):]}"


def incoming_ref(remote: str, refname: str) -> str:
    return f"{INCOMING}{remote}/{refname[len('refs/'):]}"


def untracked(remote: str, tracking: str) -> str:
    """refs/mvc-remotes/<remote>/<rest> -> refs/mvc/<rest>."""
    return "refs/mvc/" + tracking[len(f"{TRACKING}{remote}/"):]
