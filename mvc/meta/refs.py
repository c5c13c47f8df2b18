"""The refs layout (docs/format.md, "Refs")."""
from __future__ import annotations

PREFIX = "refs/mvc/"
REGISTRY_PREFIX = "refs/mvc/registry/"


def artifact(project: str, name: str) -> str:
    return f"refs/mvc/{project}/artifacts/{name}"


def registry(name: str) -> str:
    return f"{REGISTRY_PREFIX}{name}"


def run(project: str, run_id: str) -> str:
    return f"refs/mvc/{project}/runs/{run_id}"


def parse(refname: str) -> tuple[str, str | None, str] | None:
    """('artifact', project, name) | ('run', project, id) | ('registry', None, name) | None."""
    if not refname.startswith(PREFIX):
        return None
    parts = refname[len(PREFIX):].split("/")
    if len(parts) == 2 and parts[0] == "registry":
        return ("registry", None, parts[1])
    if len(parts) == 3 and parts[1] == "artifacts":
        return ("artifact", parts[0], parts[2])
    if len(parts) == 3 and parts[1] == "runs":
        return ("run", parts[0], parts[2])
    return None


def describe(refname: str) -> str | None:
    """What a ref holds, as users name it: 'artifact p/name', 'registered model registry/rm', 'run p/id'."""
    parsed = parse(refname)
    if parsed is None:
        return None
    kind, project, name = parsed
    if kind == "registry":
        return f"registered model registry/{name}"
    return f"{kind} {project}/{name}"
