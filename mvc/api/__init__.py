"""The public Python surface: Run, Api, Artifact, Link, RegisteredModel, hash_file."""
from .artifact import Artifact, FileInfo, Link, RegisteredModel
from .collection import ArtifactCollection
from .hashing import HashedFolder, hash_file, hash_folder
from .public import Api
from .runs import Run, RunRecord, init
from .remote import clone

__all__ = ["Api", "Artifact", "ArtifactCollection", "FileInfo", "HashedFolder", "Link", "RegisteredModel", "Run", "RunRecord", "hash_file",
           "hash_folder", "init", "clone"]
