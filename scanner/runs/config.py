"""The run configuration file (``cardex.yaml``), checked with pydantic.

Every mapping rejects unknown keys. Secrets never sit in the file: a source
names its credentials by reference (``{env: NAME}`` or ``{file: PATH}``),
and a URL with a password or a secret query parameter, or a secret-named key
with a literal value, is rejected. Relative paths are resolved against the
folder of the configuration file. The format is described in docs/config.md.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from scanner.errors import MissingExtraError, UsageError
from scanner.masking import public_url

# Keys whose literal values would be secrets (``password: hunter2``).
_SECRET_KEY = re.compile(
    r"pass(word)?$|passwd|pwd|secret|token|api_?key|access_?key|private_?key",
    re.IGNORECASE,
)
# Values that are secrets under any key: AWS access key ids and PEM
# private keys.
_SECRET_VALUE = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY")
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ConfigError(UsageError):
    """The run configuration file is missing, malformed or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretReference(_Strict):
    """A secret read when the run starts: ``{env: NAME}`` or ``{file: PATH}``.

    A file gives its first line, with surrounding whitespace stripped.
    """

    env: Annotated[str | None, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = None
    file: Path | None = None

    @model_validator(mode="after")
    def _check_one(self) -> SecretReference:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def resolve(self) -> str:
        """Return the secret; raises ``ConfigError`` when it is unavailable."""
        if self.env is not None:
            return self._from_env(self.env)
        assert self.file is not None
        return self._from_file(self.file)

    @staticmethod
    def _from_env(name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(
                f"environment variable {name} is not set or empty; "
                "export it before 'cardex run'"
            )
        return value

    @staticmethod
    def _from_file(path: Path) -> str:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read secret file {path}: {exc.strerror}"
            ) from exc
        lines = text.strip().splitlines()
        if not lines:
            raise ConfigError(f"secret file {path} is empty")
        return lines[0].strip()


class Credentials(_Strict):
    """Secrets of one source, each given by reference."""

    #: Inserted into the source's database URL for the run only.
    password: SecretReference | None = None
    #: Environment variables set while this source is scanned, such as
    #: ``AWS_SECRET_ACCESS_KEY`` for an object store client.
    environment: dict[str, SecretReference] = {}

    @field_validator("environment")
    @classmethod
    def _check_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"invalid environment variable name {name!r}")
        return value


class Source(_Strict):
    """One source scanned by every run."""

    #: Short id used in metrics, logs and the run record.
    name: str
    #: A path, folder, glob or SQLAlchemy URL, as ``cardex scan`` takes.
    url: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sample_size: Annotated[int, Field(ge=1, le=10_000_000)] = 1000
    #: S3-compatible endpoint of an ``s3://`` source, as ``--endpoint-url``.
    endpoint_url: str | None = None
    credentials: Credentials = Credentials()

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _SOURCE_NAME.fullmatch(value):
            raise ValueError(
                f"invalid source name {value!r}; use 1 to 64 letters, digits, "
                "'_', '.' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if public_url(value) != value:
            raise ValueError(
                "the URL contains a password or a secret query parameter; remove "
                "it and give it under credentials as {env: NAME} or {file: PATH}"
            )
        return value


class Lists(_Strict):
    """User lists, as the ``scan`` options of the same names take them."""

    geofences: Path | None = None
    terms: Path | None = None
    recipients: Path | None = None


class Catalog(_Strict):
    """The local catalog and the remote catalogs labels are pushed to."""

    url: str | None = None
    #: Opaque targets handed to ``scanner.writers`` after the run.
    push: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and public_url(value) != value:
            raise ValueError(
                "the catalog URL contains a password; use the database's own "
                "password file (such as ~/.pgpass) or a URL without secrets"
            )
        return value


class RunSettings(_Strict):
    """Settings of how one run scans its sources."""

    #: Skip datasets whose fingerprint has not changed since the last scan.
    incremental: bool = True
    #: Continue an interrupted scan where it stopped.
    resume: bool = False
    concurrency: Annotated[int, Field(ge=1, le=64)] = 1
    #: Seconds one dataset may take to sample and classify.
    dataset_timeout: Annotated[float, Field(gt=0)] = 600.0
    #: Seconds one database statement may take.
    statement_timeout: Annotated[float, Field(gt=0)] = 60.0
    on_error: Literal["fail", "skip", "warn"] = "warn"
    #: Lock file; by default next to a SQLite catalog.
    lock: Path | None = None


class Outputs(_Strict):
    """Files written at the end of each run."""

    report: Path | None = None
    metrics: Path | None = None
    summary: Path | None = None


class RunConfig(_Strict):
    """The whole ``cardex.yaml``."""

    version: Literal[1] = 1
    sources: Annotated[list[Source], Field(min_length=1)]
    rules: Path | None = None
    lists: Lists = Lists()
    catalog: Catalog = Catalog()
    #: Cron expression documenting when the scheduler starts runs.
    schedule: str | None = None
    run: RunSettings = RunSettings()
    outputs: Outputs = Outputs()

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        try:
            from croniter import croniter
        except ImportError:
            raise MissingExtraError(
                "croniter", "schedule", "checking the schedule"
            ) from None

        if value is not None and not croniter.is_valid(value):
            raise ValueError(
                f"invalid cron expression {value!r}; use five fields such as "
                "'0 2 * * *' (02:00 every day)"
            )
        return value

    @field_validator("sources")
    @classmethod
    def _check_unique(cls, value: list[Source]) -> list[Source]:
        names = [source.name for source in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"source names must be unique; repeated: {repeated}")
        return value


def load_config(path: str | Path) -> RunConfig:
    """Read, check and return the configuration at ``path``.

    Raises ``ConfigError`` naming the key path of every problem.
    """
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read configuration {config_path}: {exc.strerror}"
        ) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path} must contain a mapping of settings")
    problems = find_inline_secrets(raw)
    if problems:
        raise ConfigError(_problem_text(config_path, problems))
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_problem_text(config_path, explain(exc))) from None
    return resolve_paths(config, config_path.resolve().parent)


def _problem_text(path: Path, problems: list[str]) -> str:
    lines = "\n  ".join(problems)
    return f"invalid configuration {path}:\n  {lines}"


def find_inline_secrets(raw: Any, where: str = "") -> list[str]:
    """Return the key paths of literal secrets in parsed YAML ``raw``.

    A secret-named key must hold a reference mapping, and no string may look
    like an access key id or a private key.
    """
    found: list[str] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            path = f"{where}.{key}" if where else str(key)
            if _SECRET_KEY.search(str(key)) and isinstance(value, str | int | float):
                found.append(
                    f"{path}: a secret must not be written in the file; "
                    "give it as {env: NAME} or {file: PATH}"
                )
            else:
                found.extend(find_inline_secrets(value, path))
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            found.extend(find_inline_secrets(item, f"{where}.{index}"))
    elif isinstance(raw, str) and _SECRET_VALUE.search(raw):
        found.append(
            f"{where}: the value looks like an access key or private key; "
            "give it as {env: NAME} or {file: PATH}"
        )
    return found


def explain(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into one line each, led by the key path."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        location = [str(part) for part in item["loc"]]
        path = ".".join(location) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(_unknown_key(location))
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: {message}")
    return sorted(set(lines))


def _unknown_key(location: list[str]) -> str:
    key = location[-1]
    parent = ".".join(location[:-1]) or "the top level"
    valid = _keys_at(location[:-1])
    hint = ""
    close = difflib.get_close_matches(key, valid, n=1)
    if close:
        hint = f"; did you mean {close[0]!r}?"
    listed = ", ".join(valid) if valid else "none"
    path = ".".join(location)
    return f"{path}: unknown key {key!r} in {parent}{hint} (valid keys: {listed})"


def _keys_at(location: list[str]) -> list[str]:
    """Return the keys allowed at ``location`` in the configuration."""
    node: Any = RunConfig
    for part in location:
        node = _unwrap(node)
        if part.isdigit() or not isinstance(node, type):
            args = get_args(node)
            node = args[-1] if args else None
            continue
        field = node.model_fields.get(part) if issubclass(node, BaseModel) else None
        node = field.annotation if field is not None else None
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    members = [m for m in get_args(node) if isinstance(m, type)]
    return sorted(
        {k for m in members if issubclass(m, BaseModel) for k in m.model_fields}
    )


def _unwrap(node: Any) -> Any:
    """Strip ``Optional`` and ``Annotated`` from a type annotation."""
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    args = [arg for arg in get_args(node) if arg is not type(None)]
    if get_origin(node) in (Union, type(int | None)) and len(args) == 1:
        return args[0]
    return node


def resolve_paths(config: RunConfig, base: Path) -> RunConfig:
    """Return ``config`` with relative file paths made absolute from ``base``."""

    def absolute(path: Path | None) -> Path | None:
        if path is None:
            return None
        path = path.expanduser()
        return path if path.is_absolute() else (base / path).resolve()

    lists = config.lists.model_copy(
        update={
            name: absolute(getattr(config.lists, name)) for name in Lists.model_fields
        }
    )
    outputs = config.outputs.model_copy(
        update={
            name: absolute(getattr(config.outputs, name))
            for name in Outputs.model_fields
        }
    )
    run = config.run.model_copy(update={"lock": absolute(config.run.lock)})
    sources = [_resolve_source(source, base) for source in config.sources]
    return config.model_copy(
        update={
            "sources": sources,
            "rules": absolute(config.rules),
            "lists": lists,
            "outputs": outputs,
            "run": run,
        }
    )


def _resolve_source(source: Source, base: Path) -> Source:
    """Make a plain-path source and its secret files absolute from ``base``."""
    url = source.url
    if "://" not in url and not Path(url).expanduser().is_absolute():
        url = str(base / url)
    password = source.credentials.password
    credentials = Credentials(
        password=None if password is None else _resolve_reference(password, base),
        environment={
            name: _resolve_reference(reference, base)
            for name, reference in source.credentials.environment.items()
        },
    )
    return source.model_copy(update={"url": url, "credentials": credentials})


def _resolve_reference(reference: SecretReference, base: Path) -> SecretReference:
    if reference.file is None:
        return reference
    path = reference.file.expanduser()
    return SecretReference(file=path if path.is_absolute() else base / path)
