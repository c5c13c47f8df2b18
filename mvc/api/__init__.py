"""The public Python surface: Run, Api, Artifact, Link, RegisteredModel."""
from .artifact import Artifact, FileInfo, Link, RegisteredModel
from .public import Api
from .runs import Run, RunRecord, init

__all__ = ["Api", "Artifact", "FileInfo", "Link", "RegisteredModel", "Run", "RunRecord", "init"]
