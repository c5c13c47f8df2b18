"""Metadata in a bare git repository, through pygit2: refs layout, artifact,
registry and run commits, their history.  Nothing here touches chunk bytes."""
from .gitdb import MetaRepo, NoChange, TreeEdit
from . import refs

__all__ = ["MetaRepo", "NoChange", "TreeEdit", "refs"]
