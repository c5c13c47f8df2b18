"""mvc: version control for machine-learning models.

    import mvc
    with mvc.init(project="mnist", config={"lr": 1e-3}) as run:
        art = run.log_model("model.safetensors", name="MNIST", aliases=["best"])
"""
from .errors import (AmbiguousAddressError, ConflictError, FormatError, IntegrityError, InvalidInputError,
                     InvalidNameError, LockError, MvcError, NotFoundError, ReadOnlyError, RemoteError, StorageFullError,
                     UsageError)

__version__ = "0.1.0"

_API_NAMES = ("init", "Api", "Artifact", "ArtifactCollection", "FileInfo", "Link", "RegisteredModel", "Run",
              "RunRecord", "hash_file", "hash_folder", "clone")


# W&B's module-level calls on the active run (mvc/api/module.py): `import mvc as wandb` works
_RUN_NAMES = ("log", "finish", "log_artifact", "use_artifact", "log_model", "use_model", "link_model", "watch",
              "unwatch", "define_metric", "save", "alert", "login", "setup", "teardown", "Settings")
_CURRENT = ("run", "config", "summary")  # read afresh on each access: they follow the active run


def __getattr__(name: str):
    """Import the API (pygit2, blake3) on first use, so `mvc --help` starts fast."""
    if name in _API_NAMES:
        from . import api
        return getattr(api, name)
    if name in _RUN_NAMES:
        from .api import module
        return getattr(module, name)
    if name in _CURRENT:
        from .api import module
        return module.current(name)
    raise AttributeError(f"module 'mvc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API_NAMES) | set(_RUN_NAMES) | set(_CURRENT))


__all__ = [
    "init", "Api", "Artifact", "FileInfo", "Link", "RegisteredModel", "Run", "RunRecord", "hash_file", "hash_folder",
    "MvcError", "UsageError",
    "InvalidNameError", "InvalidInputError", "NotFoundError", "AmbiguousAddressError", "ConflictError",
    "LockError", "ReadOnlyError", "IntegrityError", "RemoteError", "FormatError", "StorageFullError", "__version__",
]
