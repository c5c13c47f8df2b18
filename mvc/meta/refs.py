"""The refs layout (docs/format.md, "Refs").  Every user string in a ref name (project,
artifact, registered model, run id) is one component written by ``codec.encode_ref``:
lower case, so names differing only in case stay two refs on a case-insensitive
filesystem, and always a valid git ref component (``model.lock``, ``a..b``, ``x.``)."""
from __future__ import annotations

from ..errors import IntegrityError
from .codec import decode_ref, encode_ref

PREFIX = "refs/mvc/"
REGISTRY_PREFIX = "refs/mvc/registry/"


def artifact(project: str, name: str) -> str:
    return f"{PREFIX}{encode_ref(project)}/artifacts/{encode_ref(name)}"


def registry(name: str) -> str:
    return f"{REGISTRY_PREFIX}{encode_ref(name)}"


def run(project: str, run_id: str) -> str:
    return f"{PREFIX}{encode_ref(project)}/runs/{encode_ref(run_id)}"


def parse(refname: str) -> tuple[str, str | None, str] | None:
    """('artifact', project, name) | ('run', project, id) | ('registry', None, name), decoded;
    None for a ref in no namespace mvc knows, or whose components are not in mvc's encoding
    (``problem`` says which)."""
    try:
        return _parse(refname)
    except IntegrityError:
        return None


def _parse(refname: str) -> tuple[str, str | None, str] | None:
    if not refname.startswith(PREFIX):
        return None
    parts = refname[len(PREFIX):].split("/")
    if len(parts) == 2 and parts[0] == "registry":
        return ("registry", None, decode_ref(parts[1]))
    if len(parts) == 3 and parts[1] in ("artifacts", "runs"):
        return ("artifact" if parts[1] == "artifacts" else "run", decode_ref(parts[0]), decode_ref(parts[2]))
    return None


def problem(refname: str) -> str | None:
    """Why ``parse`` gives None for ``refname`` (a phrase), or None when it parses."""
    try:
        if _parse(refname) is not None:
            return None
    except IntegrityError as e:
        return e.message
    return "it is in no namespace this mvc knows"


def describe(refname: str) -> str | None:
    """What a ref holds, as users name it: 'artifact p/name', 'registered model registry/rm', 'run p/id'."""
    parsed = parse(refname)
    if parsed is None:
        return None
    kind, project, name = parsed
    if kind == "registry":
        return f"registered model registry/{name}"
    return f"{kind} {project}/{name}"
