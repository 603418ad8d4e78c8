"""Resolve S3 settings from the environment and AWS profile files."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.objectstore.settings import max_attempts, resolve_s3_settings
from connectors.objectstore.store import split_source
from scanner.errors import UsageError

SECRET = "profile-secret-7c1d2e3f"


def _files(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config"
    config.write_text(
        "[default]\nregion = cn-north-1\n\n"
        "[profile minio]\nregion = cn-northwest-1\n"
        "s3 =\n    addressing_style = path\n    endpoint_url = http://127.0.0.1:9000\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[minio]\naws_access_key_id = MINIOKEY\naws_secret_access_key = {SECRET}\n"
    )
    return {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
    }


def test_profile_settings(tmp_path: Path) -> None:
    env = {**_files(tmp_path), "AWS_PROFILE": "minio"}

    settings = resolve_s3_settings(None, env)

    assert settings.endpoint_url == "http://127.0.0.1:9000"
    assert settings.region == "cn-northwest-1"
    assert settings.addressing_style == "path"
    assert settings.access_key == "MINIOKEY"
    assert settings.secrets() == ("MINIOKEY", SECRET)
    assert SECRET not in repr(settings)


def test_environment_wins_over_profile(tmp_path: Path) -> None:
    env = {
        **_files(tmp_path),
        "AWS_PROFILE": "minio",
        "AWS_ACCESS_KEY_ID": "ENVKEY",
        "AWS_SECRET_ACCESS_KEY": "env-secret",
        "AWS_REGION": "us-west-2",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:8333",
    }

    settings = resolve_s3_settings(None, env)
    explicit = resolve_s3_settings("http://127.0.0.1:7000", env)

    assert settings.access_key == "ENVKEY"
    assert settings.region == "us-west-2"
    assert settings.endpoint_url == "http://127.0.0.1:8333"
    assert explicit.endpoint_url == "http://127.0.0.1:7000"


def test_default_profile_without_keys(tmp_path: Path) -> None:
    settings = resolve_s3_settings(None, _files(tmp_path))

    assert settings.region == "cn-north-1"
    assert settings.access_key is None
    assert settings.endpoint_url is None


def test_missing_profile_is_rejected(tmp_path: Path) -> None:
    env = {**_files(tmp_path), "AWS_PROFILE": "nobody"}

    with pytest.raises(UsageError, match="nobody"):
        resolve_s3_settings(None, env)


def test_url_credentials_are_rejected() -> None:
    with pytest.raises(UsageError) as caught:
        split_source(f"s3://KEY:{SECRET}@bucket/prefix")

    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("s3://bucket/prefix/", ("s3", "bucket/prefix")),
        ("S3://bucket", ("s3", "bucket")),
        ("gs://bucket/a/b", ("gs", "bucket/a/b")),
    ],
)
def test_split_source(source: str, expected: tuple[str, str]) -> None:
    assert split_source(source) == expected


def test_max_attempts_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDEX_S3_MAX_ATTEMPTS", "2")
    assert max_attempts() == 2
    monkeypatch.setenv("CARDEX_S3_MAX_ATTEMPTS", "zero")
    with pytest.raises(UsageError, match="CARDEX_S3_MAX_ATTEMPTS"):
        max_attempts()
