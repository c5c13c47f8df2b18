"""What a download hands back to a person: the file when the selection holds exactly one,
else the folder (as ``run.use_model`` returns; `mvc use` prints it)."""
from __future__ import annotations

import os

from ..errors import NotFoundError
from ..repo.repository import matches_include


def selected_path(art, folder: str, include: list[str] | None = None) -> str:
    """The path of the one file of ``art`` that ``include`` selects (all files without it)
    inside ``folder``, when there is exactly one; else ``folder``."""
    files = [f for f in art.files() if not include or matches_include(f.path, include)]
    return os.path.join(folder, *files[0].path.split("/")) if len(files) == 1 else folder


def check_selection(art, include: list[str] | None) -> None:
    """NotFoundError, as the download would raise it, when ``include`` selects no file of ``art``
    (checked before a run starts: a use refused for its input records no run)."""
    if include and not any(matches_include(f.path, include) for f in art.files()):
        raise NotFoundError(f"no file of {art.name}:{art.version} matches {', '.join(include)}",
                            f"list its files with `mvc show {art.name}:{art.version}`")


def download(art, root: str | None = None, include: list[str] | None = None, verify: bool = True,
             progress=None, link: str | None = None) -> str:
    """Materialise ``art`` (verified unless ``verify`` is False) and return ``selected_path``."""
    return selected_path(art, art.download(root, include, verify=verify, progress=progress, link=link), include)
