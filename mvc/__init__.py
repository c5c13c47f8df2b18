"""mvc: version control for machine-learning models.

    import mvc
    with mvc.init(project="mnist", config={"lr": 1e-3}) as run:
        art = run.log_model("model.safetensors", name="MNIST", aliases=["best"])
"""
from .errors import (AmbiguousAddressError, ConflictError, FormatError, IntegrityError, InvalidInputError,
                     InvalidNameError, LockError, MvcError, NotFoundError, ReadOnlyError, RemoteError, StorageFullError,
                     UsageError)

__version__ = "0.1.0"

_API_NAMES = ("init", "Api", "Artifact", "FileInfo", "Link", "RegisteredModel", "Run", "RunRecord", "hash_file",
              "hash_folder")


def __getattr__(name: str):
    """Import the API (pygit2, blake3) on first use, so `mvc --help` starts fast."""
    if name in _API_NAMES:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'mvc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API_NAMES))


__all__ = [
    "init", "Api", "Artifact", "FileInfo", "Link", "RegisteredModel", "Run", "RunRecord", "hash_file", "hash_folder",
    "MvcError", "UsageError",
    "InvalidNameError", "InvalidInputError", "NotFoundError", "AmbiguousAddressError", "ConflictError",
    "LockError", "ReadOnlyError", "IntegrityError", "RemoteError", "FormatError", "StorageFullError", "__version__",
]
