"""The public Python surface: Run, Api, Artifact, Link, RegisteredModel, hash_file.

Each name loads its module on first use (PEP 562), so `mvc ls`, which needs only Api, does
not import the run, lineage, hashing and remote machinery (docs/performance.md, "Start-up")."""
import importlib

_WHERE = {"Artifact": "artifact", "FileInfo": "artifact", "Link": "artifact", "RegisteredModel": "artifact",
          "ArtifactCollection": "collection", "HashedFolder": "hashing", "hash_file": "hashing",
          "hash_folder": "hashing", "Api": "public", "Run": "runs", "RunRecord": "runs", "init": "runs",
          "clone": "remote"}

__all__ = ["Api", "Artifact", "ArtifactCollection", "FileInfo", "HashedFolder", "Link", "RegisteredModel", "Run",
           "RunRecord", "hash_file", "hash_folder", "init", "clone"]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
