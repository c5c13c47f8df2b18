"""The operations layer: combines the chunk store and the git metadata."""
from .repository import LogResult, Repository, artifact_digest, check_metadata
from .layout import find_store, create_store, default_project

__all__ = ["Repository", "LogResult", "artifact_digest", "check_metadata", "find_store", "create_store",
           "default_project"]
