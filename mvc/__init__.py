"""mvc: version control for machine-learning models.

    import mvc
    with mvc.init(project="mnist", config={"lr": 1e-3}) as run:
        art = run.log_model("model.safetensors", name="MNIST", aliases=["best"])
"""
from .api import Api, Artifact, FileInfo, Link, RegisteredModel, Run, RunRecord, init
from .errors import (AmbiguousAddressError, ConflictError, FormatError, IntegrityError, InvalidInputError,
                     InvalidNameError, LockError, MvcError, NotFoundError, RemoteError, StorageFullError, UsageError)

__version__ = "0.1.0"

__all__ = [
    "init", "Api", "Artifact", "FileInfo", "Link", "RegisteredModel", "Run", "RunRecord", "MvcError", "UsageError",
    "InvalidNameError", "InvalidInputError", "NotFoundError", "AmbiguousAddressError", "ConflictError",
    "LockError", "IntegrityError", "RemoteError", "FormatError", "StorageFullError", "__version__",
]
