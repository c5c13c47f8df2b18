"""Name rules and the address grammar (SPEC.md, "Names and addresses").

    [entity/][project/]name[:v<N> | :<alias>]
    [entity/][project/]name@<digest-prefix>        (>= 8 hex digits)
    registry/<registered-model>[:v<N> | :<alias>]

W&B's registry paths mean the same registry: ``wandb-registry-model/<name>`` and
``[entity/]model-registry/<name>`` (and ``[org/]wandb-registry-model/<name>``).
"""
from __future__ import annotations

import re

from .errors import InvalidInputError, InvalidNameError
from .record import record

NAME_CHARS = "A-Z a-z 0-9 _ - ."
_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_VERSION_RE = re.compile(r"v(0|[1-9][0-9]*)")
_HEX_RE = re.compile(r"[0-9a-f]{8,}")
REGISTRY = "registry"
W_AND_B_REGISTRIES = ("wandb-registry-model", "model-registry")  # W&B's spellings of the model registry


def _bad_char(value: str) -> str | None:
    for ch in value:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]", ch):
            return ch
    return None


def check_name(value: str, what: str = "name") -> str:
    """Refuse anything outside the name rules, naming the offending character."""
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} must be a string, not {type(value).__name__}", f"use 1-128 characters of {NAME_CHARS}")
    if not value:
        raise InvalidNameError(f"{what} is empty", f"use 1-128 characters of {NAME_CHARS}")
    if len(value) > 128:
        raise InvalidNameError(
            f"{what} {value[:40]!r}... is {len(value)} characters long; the limit is 128",
            "choose a shorter name",
        )
    bad = _bad_char(value)
    if bad is not None:
        raise InvalidNameError(
            f"{what} {value!r} contains {bad!r}, which is not allowed",
            f"use only {NAME_CHARS}, not starting with '.'",
        )
    if value.startswith("."):
        raise InvalidNameError(
            f"{what} {value!r} starts with '.'", f"use only {NAME_CHARS}, not starting with '.'"
        )
    return value


def as_list(value, what: str = "aliases") -> list:
    """None -> [], one string -> [it], a list/tuple/set -> a list; anything else is refused
    (a bare string is never split into characters)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    raise InvalidInputError(f"{what} must be a string or a list of strings, not {type(value).__name__}",
                            f"pass e.g. {what}=['best'] or {what}='best'")


def check_project(value: str) -> str:
    check_name(value, "project")
    if value == REGISTRY:
        raise InvalidNameError(
            "'registry' cannot be a project name: registry/<name> addresses the model registry",
            "choose another project name",
        )
    return value


def is_version_name(value: str) -> bool:
    return bool(_VERSION_RE.fullmatch(value))


def check_alias(value: str, allow_latest: bool = False) -> str:
    check_name(value, "alias")
    if re.fullmatch(r"v[0-9]+", value):
        raise InvalidNameError(
            f"alias {value!r} looks like a version number; v<N> names are reserved",
            "choose an alias that is not 'v' followed by digits",
        )
    if value == "latest" and not allow_latest:
        raise InvalidNameError(
            "alias 'latest' is moved automatically to the newest version and cannot be set by hand",
            "log the content again to make it latest, or use another alias",
        )
    return value


def check_registered_model_name(value: str) -> str:
    if isinstance(value, str) and ("/" in value or ":" in value):
        raise InvalidNameError(
            f"registered model name {value!r} contains {'/' if '/' in value else ':'}; it must be a bare name",
            "pass just the name, e.g. 'MNIST-prod', not 'registry/MNIST-prod:v0'",
        )
    return check_name(value, "registered model name")


@record(frozen=True)
class Address:
    name: str
    project: str | None = None
    entity: str | None = None
    version: str | None = None  # "v3"
    alias: str | None = None
    digest: str | None = None  # hex prefix
    registry: bool = False

    @property
    def selector(self) -> str:
        if self.version:
            return self.version
        if self.digest:
            return "@" + self.digest
        return self.alias or "latest"

    def __str__(self) -> str:
        base = f"{REGISTRY}/{self.name}" if self.registry else "/".join(
            p for p in (self.entity, self.project, self.name) if p
        )
        if self.digest:
            return f"{base}@{self.digest}"
        return f"{base}:{self.selector}"


def parse_address(text: str) -> Address:
    if not isinstance(text, str) or not text:
        raise InvalidNameError("empty address", "write [entity/][project/]name[:v<N>|:alias] or registry/<name>")
    digest = None
    selector = None
    body = text
    if "@" in text:
        body, digest = text.rsplit("@", 1)
        digest = digest.lower()  # as git takes ABCDEF12 for abcdef12
        if not _HEX_RE.fullmatch(digest):
            raise InvalidNameError(
                f"digest prefix {digest!r} in {text!r} is not at least 8 hex digits",
                "copy at least 8 characters of the digest shown by `mvc ls NAME`",
            )
    elif ":" in text:
        body, selector = text.rsplit(":", 1)
        if not selector:
            raise InvalidNameError(f"address {text!r} ends with ':'", "add a version (v3) or an alias after ':'")
    parts = body.split("/")
    if len(parts) > 3 or any(p == "" for p in parts):
        raise InvalidNameError(
            f"address {text!r} is not of the form [entity/][project/]name[:version|:alias]",
            "write e.g. 'MNIST:v3', 'my-project/MNIST:best' or 'registry/MNIST-prod:production'",
        )
    entity = project = None
    registry = False
    if len(parts) == 3:
        entity, project, name = parts
        if project in W_AND_B_REGISTRIES or project == REGISTRY:
            entity = None  # the registry is store-wide: an org or entity before it names nothing more
        else:
            check_name(entity, "entity")
    elif len(parts) == 2:
        project, name = parts
    else:
        (name,) = parts
    _refuse_other_wandb_registry(project, text)
    if project == REGISTRY or project in W_AND_B_REGISTRIES:
        registry, project = True, None
        if digest:
            raise InvalidNameError("registry addresses take :v<N> or :alias, not @digest")
    elif project is not None:
        check_project(project)
    check_name(name, "registered model name" if registry else "artifact name")
    version = alias = None
    if selector is not None:
        if is_version_name(selector):
            version = selector
        else:
            check_alias(selector, allow_latest=True)
            alias = selector
    return Address(name=name, project=project, entity=entity, version=version, alias=alias,
                   digest=digest, registry=registry)


def _refuse_other_wandb_registry(project: str | None, text: str) -> None:
    """W&B's ``wandb-registry-<R>/NAME`` for another registry than ``model``: mvc has one registry,
    and taking it for a project would silently log or read elsewhere than meant."""
    if project and project.startswith("wandb-registry-") and project not in W_AND_B_REGISTRIES:
        raise InvalidNameError(
            f"{text!r} names W&B registry {project[len('wandb-registry-'):]!r}; mvc has one registry, "
            "the model registry",
            "write registry/NAME (or wandb-registry-model/NAME), which holds links of any artifact type")


def registered_model_target(target: str) -> str:
    """The registered model a link target names: a bare name, ``registry/NAME``, W&B's
    ``wandb-registry-model/NAME`` or ``[entity/]model-registry/NAME`` (no version or alias)."""
    if not isinstance(target, str) or "/" not in target:
        return check_registered_model_name(target)
    if ":" in target or "@" in target:
        raise InvalidNameError(f"link target {target!r} names a version; a link target is a registered model",
                               "write e.g. registry/MNIST-prod or wandb-registry-model/MNIST-prod")
    try:
        addr = parse_address(target)
    except InvalidNameError as e:  # "../x" is no project: say what a link target is
        raise InvalidNameError(f"link target {target!r} is not a registered model ({e.message})",
                               "write a registered model as NAME, registry/NAME, wandb-registry-model/NAME or "
                               "model-registry/NAME") from None
    if not addr.registry:
        raise InvalidNameError(
            f"link target {target!r} is not a registered model: mvc has no W&B portfolios in projects",
            "write a registered model as NAME, registry/NAME, wandb-registry-model/NAME or model-registry/NAME")
    return addr.name


REMOTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


def check_remote_name(name: str) -> str:
    """A remote's name (`mvc remote add NAME`, the setting remote.default): git's rules for a ref
    component, kept to 64 characters."""
    if not isinstance(name, str) or not REMOTE_NAME.fullmatch(name) or name.endswith(".lock") or ".." in name:
        raise InvalidInputError(f"{name!r} is not a usable remote name",
                                "use 1-64 characters of A-Z a-z 0-9 _ - . starting with a letter, digit or _")
    return name


def check_run_name(value) -> str:
    """A run's display name: 1-128 characters of text (spaces allowed, as W&B allows them), no
    control characters, not blank.  Run ids keep the name rules."""
    if not isinstance(value, str):
        raise InvalidNameError(f"run name must be a string, not {type(value).__name__}", "pass name='my run'")
    if not value.strip():
        raise InvalidNameError("run name is blank", "pass a name with at least one visible character")
    if len(value) > 128:
        raise InvalidNameError(f"run name {value[:40]!r}... is {len(value)} characters long; the limit is 128",
                               "choose a shorter name")
    if not value.replace(" ", "").isprintable():  # spaces are fine; not \t, \u202e or \u2028
        bad = next(ch for ch in value if not ch.isprintable() and ch != " ")
        raise InvalidNameError(f"run name {value!r} contains the unprintable character {bad!r} "
                               f"(U+{ord(bad):04X}: a control, format or separator character)",
                               "use printable characters only")
    return value
