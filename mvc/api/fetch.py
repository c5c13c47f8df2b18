"""What a download hands back to a person: the file when the selection holds exactly one,
else the folder (as ``run.use_model`` returns; `mvc use` prints it)."""
from __future__ import annotations

import os

from ..repo.repository import matches_include


def selected_path(art, folder: str, include: list[str] | None = None) -> str:
    """The path of the one file of ``art`` that ``include`` selects (all files without it)
    inside ``folder``, when there is exactly one; else ``folder``."""
    files = [f for f in art.files() if not include or matches_include(f.path, include)]
    return os.path.join(folder, *files[0].path.split("/")) if len(files) == 1 else folder


def download(art, root: str | None = None, include: list[str] | None = None, verify: bool = True,
             progress=None, link: str = "copy") -> str:
    """Materialise ``art`` (verified unless ``verify`` is False) and return ``selected_path``."""
    return selected_path(art, art.download(root, include, verify=verify, progress=progress, link=link), include)
