"""Log, then link: ``run.link_model`` and `mvc link PATH` (W&B's link_model logs the files,
then links the version).  The log and the link move two refs in two commits, so a refused
link cannot take the log back.  What can be decided before the log is refused before it (a
protected alias on the registered model, with no pre-alias hook that could allow it); what
needs the version (a pre-link or pre-alias hook's veto) is refused after it, and then the
error says the path stays logged, under which address, and how to link it later."""
from __future__ import annotations

from ..errors import MvcError, ProtectedAliasError


def check_link_aliases(repo, model: str, aliases: list[str], project: str, name: str) -> None:
    """Refuse, before anything is logged, a link whose registry alias is protected on ``model``
    when nothing could let it move: no --force here (log and link take none) and no pre-alias
    hook.  Left to the link itself when the alias is on a link of artifact ``project/name``,
    whose next log may be a re-log of that very version (then the alias does not move)."""
    if not aliases or repo.events.force:
        return
    tip = repo.registry.tip(model)
    if tip is None:
        return
    from ..hooks import protect, runner
    guarded = [a for a in aliases if a in protect.protected(repo.meta, tip.tree)]
    if not guarded or runner.find(repo.events.store, "pre-alias") is not None:
        return
    held = repo.registry.aliases(model, tip)
    for alias in guarded:
        li = repo.registry.link_info(model, held[alias]) if alias in held else None
        if li is not None and li.source[:2] == (project, name):
            continue
        raise ProtectedAliasError(
            f"alias {alias} of registry/{model} is protected: linking with alias {alias} needs --force, "
            "which log and link do not take; nothing was logged",
            f"link it without that alias, then move the alias with `mvc alias set --force "
            f"registry/{model}:latest {alias}` (Python: Api.set_alias with force=True), or unprotect it "
            f"with `mvc alias unprotect registry/{model} {alias}`")


def refused_after_log(e: MvcError, path, address: str, model: str) -> MvcError:
    """``e`` (the link step's refusal) retold: the log before it stands.  Same class, so the
    same exit code; the hint drops the "nothing was changed" the link step could say."""
    hint = (e.hint or "").replace("; nothing was changed", "").replace("nothing was changed", "").strip("; ")
    later = (f"link it later with `mvc link {address} --to {model}` "
             f"(Python: Api.artifact of {address}, then its link to {model})")
    return type(e)(f"{path} was logged as {address}, but linking it into registry/{model} was refused: "
                   f"{e.message}", f"{hint}; {later}" if hint else later)
