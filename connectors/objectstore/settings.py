"""Resolve object-store settings and open a pyarrow filesystem for a URL.

S3 settings come from the places the AWS command line reads them, first match
first:

- endpoint: ``--endpoint-url``, ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``,
  then ``endpoint_url`` of the profile (its ``s3`` subsection first);
- region: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile, ``us-east-1``;
- addressing style: ``addressing_style`` in the profile's ``s3`` subsection
  (``path``, ``virtual`` or ``auto``);
- credentials: ``AWS_ACCESS_KEY_ID`` with ``AWS_SECRET_ACCESS_KEY`` (and
  ``AWS_SESSION_TOKEN``), then the profile named by ``AWS_PROFILE`` (or
  ``default``) in ``AWS_SHARED_CREDENTIALS_FILE`` and ``AWS_CONFIG_FILE``
  (``~/.aws/credentials`` and ``~/.aws/config``).

Without credentials from these, pyarrow's AWS SDK tries its own chain (a role
or SSO profile, a container endpoint). The SDK would also query the EC2
instance metadata address. cardex switches that off by setting
``AWS_EC2_METADATA_DISABLED=true`` unless the environment already sets the
variable. A scan on EC2 that relies on an instance role must therefore set
``AWS_EC2_METADATA_DISABLED=false`` itself.

Secrets stay in the ``S3Settings`` object: its ``repr`` leaves them out and
``secrets()`` lists them so that messages can be scrubbed of them.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from scanner.errors import UsageError

AddressingStyle = Literal["auto", "path", "virtual"]

DEFAULT_REGION = "us-east-1"
# Attempts per request, with the SDK's exponential backoff between them, for
# throttling (503 SlowDown), 5xx responses and dropped connections. Five
# attempts against a store that refuses connections take about 5.5 s
# (measured with pyarrow 26); CARDEX_S3_MAX_ATTEMPTS overrides the count.
MAX_ATTEMPTS = 5
# Lower bound on the connect and request timeouts of one attempt, in seconds.
MIN_ATTEMPT_TIMEOUT = 1.0
MAX_ATTEMPTS_ENV = "CARDEX_S3_MAX_ATTEMPTS"
METADATA_SWITCH = "AWS_EC2_METADATA_DISABLED"

_ADDRESSING_STYLES = ("auto", "path", "virtual")


@dataclass(frozen=True)
class S3Settings:
    """Endpoint, region, addressing style and credentials for S3 requests."""

    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    addressing_style: AddressingStyle = "auto"
    profile: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    def secrets(self) -> tuple[str, ...]:
        """Return the values that must never appear in any output."""
        found = (self.access_key, self.secret_key, self.session_token)
        return tuple(value for value in found if value)


def resolve_s3_settings(
    endpoint_url: str | None = None, environ: Mapping[str, str] | None = None
) -> S3Settings:
    """Collect S3 settings from ``endpoint_url``, the environment and profiles."""
    env = os.environ if environ is None else environ
    profile_name = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
    profile = _read_profile(profile_name or "default", env, required=bool(profile_name))
    s3_section = _subsection(profile.get("s3", ""))

    endpoint = (
        endpoint_url
        or env.get("AWS_ENDPOINT_URL_S3")
        or env.get("AWS_ENDPOINT_URL")
        or s3_section.get("endpoint_url")
        or profile.get("endpoint_url")
    )
    region = (
        env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or profile.get("region")
        or DEFAULT_REGION
    )
    style = s3_section.get("addressing_style", "auto")
    if style not in _ADDRESSING_STYLES:
        raise UsageError(
            f"the profile sets s3 addressing_style = {style!r}; valid values: "
            f"{', '.join(_ADDRESSING_STYLES)}"
        )

    access_key, secret_key, token = _credentials(env, profile)
    return S3Settings(
        endpoint_url=endpoint,
        region=region,
        addressing_style=style,  # type: ignore[arg-type]
        profile=profile_name,
        access_key=access_key,
        secret_key=secret_key,
        session_token=token,
    )


def _credentials(
    env: Mapping[str, str], profile: Mapping[str, str]
) -> tuple[str | None, str | None, str | None]:
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return (
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_SESSION_TOKEN") or None,
        )
    if profile.get("aws_access_key_id") and profile.get("aws_secret_access_key"):
        return (
            profile["aws_access_key_id"],
            profile["aws_secret_access_key"],
            profile.get("aws_session_token") or None,
        )
    return None, None, None


def _read_profile(name: str, env: Mapping[str, str], required: bool) -> dict[str, str]:
    """Merge a profile from the credentials file and the config file.

    Keys in the credentials file win. Raises ``UsageError`` when a profile
    named through ``AWS_PROFILE`` is in neither file.
    """
    home = os.path.expanduser("~")
    credentials_path = env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(
        home, ".aws", "credentials"
    )
    config_path = env.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")
    config_section = name if name == "default" else f"profile {name}"

    merged: dict[str, str] = {}
    found = False
    for path, section in ((config_path, config_section), (credentials_path, name)):
        values = _read_section(path, section)
        if values is not None:
            found = True
            merged.update(values)
    if required and not found:
        raise UsageError(
            f"the AWS profile {name!r} is not in {credentials_path} or "
            f"{config_path}; check AWS_PROFILE or add the profile"
        )
    return merged


def _read_section(path: str, section: str) -> dict[str, str] | None:
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as stream:
            parser.read_file(stream)
    except FileNotFoundError:
        return None
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        # The parser's message quotes the line, which may hold a secret key.
        raise UsageError(
            f"could not read the AWS settings file {path} "
            f"({type(exc).__name__}); fix its syntax or point AWS_CONFIG_FILE "
            "and AWS_SHARED_CREDENTIALS_FILE elsewhere"
        ) from None
    if not parser.has_section(section):
        return None
    return dict(parser.items(section))


def _subsection(text: str) -> dict[str, str]:
    """Parse an indented ``key = value`` block such as the ``s3 =`` setting."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if separator:
            values[key.strip()] = value.strip()
    return values


def s3_filesystem(settings: S3Settings, timeout: float) -> pafs.S3FileSystem:
    """Open pyarrow's S3 filesystem with ``settings``.

    ``timeout`` (seconds) bounds connecting plus every attempt of one request:
    each of the ``max_attempts()`` attempts gets an equal share of it, but at
    least ``MIN_ATTEMPT_TIMEOUT``. The SDK's backoff between attempts comes on
    top. A download that keeps receiving bytes is not cut off: on Linux the
    SDK's request timeout is curl's low-speed limit (under 1 byte/s for that
    long), not a limit on the whole transfer.
    """
    os.environ.setdefault(METADATA_SWITCH, "true")
    attempts = max_attempts()
    per_attempt = max(MIN_ATTEMPT_TIMEOUT, timeout / attempts)
    options: dict[str, object] = {
        "region": settings.region,
        "connect_timeout": per_attempt,
        "request_timeout": per_attempt,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=attempts),
        "force_virtual_addressing": settings.addressing_style == "virtual",
    }
    if settings.endpoint_url:
        scheme, host = _split_endpoint(settings.endpoint_url)
        options["scheme"] = scheme
        options["endpoint_override"] = host
    if settings.access_key and settings.secret_key:
        options["access_key"] = settings.access_key
        options["secret_key"] = settings.secret_key
        options["session_token"] = settings.session_token
    return pafs.S3FileSystem(**options)  # type: ignore[arg-type]


def max_attempts() -> int:
    """Return the attempts per S3 request, from ``CARDEX_S3_MAX_ATTEMPTS`` or 5."""
    raw = os.environ.get(MAX_ATTEMPTS_ENV)
    if raw is None:
        return MAX_ATTEMPTS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 20:
        raise UsageError(
            f"{MAX_ATTEMPTS_ENV}={raw!r} is invalid; use a whole number from 1 to 20"
        )
    return value


def _split_endpoint(endpoint_url: str) -> tuple[str, str]:
    """Split ``http://host:port`` into pyarrow's scheme and endpoint override."""
    if "://" not in endpoint_url:
        # Without a scheme the SDK would resolve the whole value as a host name.
        value = f" {endpoint_url!r}" if "@" not in endpoint_url else ""
        raise UsageError(
            f"invalid S3 endpoint{value}: expected http://HOST[:PORT] or "
            "https://HOST[:PORT] in --endpoint-url, AWS_ENDPOINT_URL_S3, "
            "AWS_ENDPOINT_URL or the profile's endpoint_url"
        )
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"the S3 endpoint {parts.scheme}://{parts.hostname or ''} is not an "
            "http:// or https:// URL; pass one such as https://s3.example.com"
        )
    if parts.username or parts.password:
        raise UsageError(
            "the S3 endpoint URL contains a user name or password; pass "
            "credentials through AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "or a profile instead"
        )
    return parts.scheme, parts.netloc
