"""Configuration of a catalog writer: the target string and an optional YAML file.

A push target names the catalog and where it is::

    datahub+https://datahub.example.com:8080   DataHub GMS over REST
    datahub-file:proposals.json                 a file for ``datahub ingest``
    datahub-lite:/path/lite.duckdb              a DataHub Lite DuckDB store
    openmetadata+https://om.example.com/api     OpenMetadata over REST

Query parameters set single options (``?vocabulary=glossary&env=DEV``);
``config=PATH`` reads a YAML file with the same keys plus per-source
mappings. Query parameters win over the file. Tokens are never part of a
target: ``token_env`` names the environment variable that contains one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scanner.errors import UsageError
from scanner.masking import public_url

logger = logging.getLogger(__name__)

CatalogKind = Literal["datahub", "openmetadata"]
Transport = Literal["rest", "file", "lite"]

DEFAULT_TOKEN_ENV = {
    "datahub": "DATAHUB_GMS_TOKEN",
    "openmetadata": "OPENMETADATA_TOKEN",
}
TARGET_FORMS = (
    "datahub+https://HOST[:PORT]",
    "datahub-file:PATH",
    "datahub-lite:PATH",
    "openmetadata+https://HOST[:PORT]/api",
)
# Query parameters a target may carry, beside ``config``.
QUERY_OPTIONS = (
    "token_env",
    "vocabulary",
    "env",
    "platform_instance",
    "service",
    "actor",
    "retries",
    "timeout",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SourceMapping(_Strict):
    """The catalog names of the datasets under one source prefix."""

    prefix: str = Field(
        description="Start of the cardex dataset URIs this mapping covers: a "
        "folder, an object-store prefix or a database URL without password."
    )
    platform: str | None = Field(
        default=None, description="DataHub platform, such as postgres, hive, s3."
    )
    platform_instance: str | None = None
    env: str | None = Field(default=None, description="DataHub fabric, such as PROD.")
    service: str | None = Field(
        default=None, description="OpenMetadata database service name."
    )
    database: str | None = Field(
        default=None, description="Database name in the catalog, if it differs."
    )
    schema_name: str | None = Field(
        default=None,
        alias="schema",
        description="Schema name in the catalog; for files, the OpenMetadata "
        "schema (a bucket, for data-lake services).",
    )
    name_prefix: str = Field(
        default="",
        description="Text put before the path of a file below ``prefix`` to make "
        "its catalog name, such as 'bucket/'.",
    )


class WriterConfig(_Strict):
    """Everything a writer needs; validated from the target and a YAML file."""

    catalog: CatalogKind
    transport: Transport = "rest"
    server: str | None = Field(default=None, description="Base URL of the server.")
    path: Path | None = Field(
        default=None, description="File of file and lite targets."
    )
    token_env: str | None = None
    vocabulary: Literal["tags", "glossary"] = "tags"
    env: str = "PROD"
    platform_instance: str | None = None
    service: str | None = None
    actor: str = Field(
        default="cardex", description="User name recorded as the one who applied."
    )
    mappings: tuple[SourceMapping, ...] = ()
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0

    @property
    def target_id(self) -> str:
        """The target without options, as the push records name it."""
        if self.transport == "rest":
            return f"{self.catalog}+{self.server}"
        return f"{self.catalog}-{self.transport}:{self.path}"

    def token(self) -> str | None:
        """Return the token from the environment, or None when none is set.

        Logs a warning when ``token_env`` names a variable that is not set,
        because the requests then go without a token.
        """
        name = self.token_env or DEFAULT_TOKEN_ENV[self.catalog]
        token = os.environ.get(name) or None
        if token is None and self.token_env:
            logger.warning(
                "token_env names %s, which is not set; sending requests to %s "
                "without a token",
                name,
                self.server,
            )
        return token

    def mapping_for(self, uri: str) -> SourceMapping | None:
        """Return the mapping with the longest prefix that ``uri`` starts with."""
        matches = [m for m in self.mappings if uri.startswith(m.prefix)]
        return max(matches, key=lambda m: len(m.prefix), default=None)


def _split_target(target: str) -> tuple[dict[str, Any], str]:
    """Return the catalog, transport and location of ``target``, and its query."""
    location, _, query = target.partition("?")
    for scheme, catalog in (("datahub+", "datahub"), ("openmetadata+", "openmetadata")):
        if location.startswith(scheme):
            server = location[len(scheme) :].rstrip("/")
            parts = urlsplit(server)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                break
            if parts.username or parts.password:
                raise UsageError(
                    f"push target {_shown(target)!r} carries a user or password; "
                    "tokens are read from the environment: set token_env=NAME"
                )
            if catalog == "openmetadata" and not parts.path:
                server += "/api"
            return {"catalog": catalog, "transport": "rest", "server": server}, query
    for prefix, transport in (("datahub-file:", "file"), ("datahub-lite:", "lite")):
        if location.startswith(prefix) and len(location) > len(prefix):
            path = Path(location[len(prefix) :]).expanduser().absolute()
            return {"catalog": "datahub", "transport": transport, "path": path}, query
    raise UsageError(
        f"invalid push target {_shown(target)!r}; use one of: {', '.join(TARGET_FORMS)}"
    )


def _shown(target: str) -> str:
    """Return ``target`` without its query or password, for messages."""
    return public_url(target.partition("?")[0])


def _query_options(target: str, query: str) -> tuple[dict[str, str], Path | None]:
    options: dict[str, str] = {}
    config_path: Path | None = None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in ("token", "password", "secret", "api_key"):
            raise UsageError(
                f"push target {_shown(target)!r} carries a {key}; tokens are read "
                "from the environment: set token_env=NAME and export NAME"
            )
        if key == "config":
            config_path = Path(value).expanduser()
        elif key in QUERY_OPTIONS:
            options[key] = value
        else:
            raise UsageError(
                f"unknown option {key!r} in push target {_shown(target)!r}; valid "
                f"options: config, {', '.join(QUERY_OPTIONS)}"
            )
    return options, config_path


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read push configuration {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"push configuration {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"push configuration {path} must be a mapping of options")
    return data


def parse_target(target: str, config_path: str | Path | None = None) -> WriterConfig:
    """Validate a push target and its configuration into a ``WriterConfig``.

    ``config_path`` is read first, then a ``config=`` file of the target, then
    the target's other query parameters; later sources win.
    """
    located, query = _split_target(target)
    options, query_config = _query_options(target, query)
    data: dict[str, Any] = {}
    for path in (config_path, query_config):
        if path is not None:
            data |= _read_config_file(Path(path))
    data |= options | located
    try:
        return WriterConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in error['loc']) or 'top level'}: "
            f"{error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise UsageError(
            f"invalid configuration for push target {_shown(target)!r}:\n{problems}"
        ) from exc
