"""The API of hooks: protected aliases, pending store events, and installing the git hooks
(mvc/hooks does the work; `mvc hooks`, `mvc alias protect` and `mvc webhook` call these)."""
from __future__ import annotations

from ..errors import InvalidNameError
from ..hooks import gitinstall
from ..hooks import protect as _protect
from ..meta import refs
from ..names import check_alias, parse_address


def _ref_of(api, name: str) -> tuple[str, str]:
    """(refname, label) of artifact ``name`` or ``registry/<model>``, which must exist."""
    addr = parse_address(name)
    if addr.version or addr.alias or addr.digest:
        raise InvalidNameError(f"{name!r} names a version; give the artifact name alone",
                               "write e.g. MNIST or registry/MNIST-prod")
    if addr.registry:
        api.registered_model(addr.name)  # NotFoundError with the hint
        return refs.registry(addr.name), f"registry/{addr.name}"
    project = addr.project or api.project
    api.repo.artifact_state(project, addr.name)
    return refs.artifact(project, addr.name), f"{project}/{addr.name}"


def protect(api, name: str, alias: str, on: bool) -> bool:
    check_alias(alias, allow_latest=True)
    ref, label = _ref_of(api, name)
    return _protect.set_protected(api.repo.meta, ref, label, alias, on)


def protected_aliases(api, name: str) -> list[str]:
    ref, _ = _ref_of(api, name)
    tip = api.repo.meta.tip(ref)
    return _protect.protected(api.repo.meta, tip.tree if tip else None)


def run_pending(api, retry_failed: bool = False) -> dict:
    counts = api.repo.events.run_pending(api.repo.meta, retry_failed)
    opened = getattr(api.repo, "pending", None) or {}
    return {k: counts.get(k, 0) + opened.get(k, 0) for k in set(counts) | set(opened)}


def install(where: str | None = None, chain: bool = False, force: bool = False, restore: bool = False):
    """Install mvc's git hooks in the git repository at or above ``where`` (gitinstall.install)."""
    return gitinstall.install(where, chain=chain, force=force, restore=restore)


def uninstall(where: str | None = None):
    return gitinstall.uninstall(where)


def status(where: str | None = None):
    return gitinstall.status(where)


# ---- what mvc's git hooks decide (mvc/hooks/githooks.py; `mvc hooks run HOOK`) ----
def weights_refusal(files: list[str] | None = None) -> str | None:
    """pre-commit: the message refusing the staged files (or ``files``) that look like model
    weights, or None when there are none.  ValueError for a bad git config mvc.maxFileSize."""
    from ..hooks import githooks
    patterns, allowed, limit = githooks.weight_rules()
    found = githooks.weights(githooks.staged(files), patterns, allowed, limit)
    return githooks.refusal(found) if found else None


def pins_to_push(remote: str, lines: list[str]) -> dict:
    """pre-push: remote (None: the default) -> addresses of the versions the pushed commits pin."""
    from ..hooks import githooks
    return githooks.pins_to_push(remote, lines or githooks.pre_commit_ref_lines())


def restores_after(hook: str, args: list[str]) -> bool:
    """post-checkout / post-merge: should the pinned models be restored now?"""
    from ..hooks import githooks
    return githooks.checkout_restores(args) if hook == "post-checkout" else githooks.merge_restores()
