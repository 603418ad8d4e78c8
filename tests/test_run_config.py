"""The run configuration file: valid files load, invalid ones name the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scanner.runs.config import ConfigError, SecretReference, load_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "cardex.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cardex.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


def test_minimal_config_gets_defaults(tmp_path):
    config = load_config(write(tmp_path, "sources: [{name: lake, url: lake}]"))
    assert config.run.incremental is True
    assert config.run.concurrency == 1
    assert config.run.on_error == "warn"
    assert config.sources[0].sample_size == 1000
    assert config.catalog.url is None
    assert config.catalog.push == ()


def test_relative_paths_follow_config_folder(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
            sources:
              - name: lake
                url: data/lake
                credentials:
                  environment:
                    AWS_SECRET_ACCESS_KEY: {file: secrets/s3.txt}
              - name: db
                url: sqlite:///app.db
            rules: rules.yaml
            lists: {geofences: lists/zones.geojson}
            run: {lock: run.lock}
            outputs: {metrics: out/cardex.prom, summary: out/summary.md}
            """,
        )
    )
    lake, database = config.sources
    assert lake.url == str(tmp_path / "data/lake")
    secret = lake.credentials.environment["AWS_SECRET_ACCESS_KEY"]
    assert secret.file == tmp_path / "secrets/s3.txt"
    assert database.url == "sqlite:///app.db"
    assert config.rules == tmp_path / "rules.yaml"
    assert config.lists.geofences == tmp_path / "lists/zones.geojson"
    assert config.run.lock == tmp_path / "run.lock"
    assert config.outputs.metrics == tmp_path / "out/cardex.prom"


def test_example_config_is_valid():
    config = load_config(EXAMPLE)
    assert len(config.sources) >= 2
    assert config.schedule is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources: [{name: a, url: x, includ: ['*.csv']}]",
            "sources.0.includ: unknown key 'includ' in sources.0; did you mean "
            "'include'?",
        ),
        (
            "sources: [{name: a, url: x}]\nrun: {concurency: 2}",
            "run.concurency: unknown key 'concurency' in run; did you mean "
            "'concurrency'?",
        ),
        ("sources: [{name: a, url: x}]\nextra: 1", "extra: unknown key 'extra'"),
        (
            "sources: [{name: a, url: x, credentials: {password: {env: X, f: 1}}}]",
            "sources.0.credentials.password.f: unknown key 'f'",
        ),
    ],
)
def test_unknown_keys_named_with_path(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources: []", "sources: List should have at least 1 item"),
        ("sources: [{name: a}]", "sources.0.url: Field required"),
        (
            "sources: [{name: a, url: x, sample_size: 0}]",
            "sources.0.sample_size: Input should be greater than or equal to 1",
        ),
        (
            "sources: [{name: 'a b', url: x}]",
            "sources.0.name: invalid source name 'a b'",
        ),
        (
            "sources: [{name: a, url: x}, {name: a, url: y}]",
            "source names must be unique; repeated: ['a']",
        ),
        (
            "sources: [{name: a, url: x}]\nschedule: '61 * * * *'",
            "schedule: invalid cron expression '61 * * * *'",
        ),
        (
            "sources: [{name: a, url: x}]\nrun: {on_error: ignore}",
            "run.on_error: Input should be 'fail', 'skip' or 'warn'",
        ),
        (
            "sources: [{name: a, url: x}]\nrun: {dataset_timeout: 0}",
            "run.dataset_timeout: Input should be greater than 0",
        ),
        (
            "sources: [{name: a, url: x, credentials: {password: {}}}]",
            "sources.0.credentials.password: give exactly one of env or file",
        ),
        (
            "sources: [{name: a, url: x}]\nversion: 2",
            "version: Input should be 1",
        ),
    ],
)
def test_bad_values_named_with_path(tmp_path, text, expected):
    assert expected in load_error(tmp_path, text)


def test_all_problems_reported_at_once(tmp_path):
    message = load_error(
        tmp_path,
        "sources: [{name: a, url: x, sample_size: -1, colour: red}]\n"
        "schedule: nonsense",
    )
    assert "sources.0.sample_size" in message
    assert "sources.0.colour" in message
    assert "schedule:" in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("sources: [{name: a, url: 'postgresql://scan:hunter2@db/cars'}]", "url"),
        ("sources: [{name: a, url: 's3://lake/x?X-Amz-Signature=abc'}]", "url"),
        ("sources: [{name: a, url: 'postgresql://db/cars?password=pw'}]", "url"),
        (
            "sources: [{name: a, url: x, credentials: {password: hunter2}}]",
            "sources.0.credentials.password: a secret must not be written",
        ),
        (
            "sources: [{name: a, url: x, credentials: {environment: "
            "{AWS_SECRET_ACCESS_KEY: abc}}}]",
            "sources.0.credentials.environment.AWS_SECRET_ACCESS_KEY: a secret",
        ),
        (
            "sources: [{name: a, url: x}]\nnotes: AKIAIOSFODNN7EXAMPLE",
            "notes: the value looks like an access key",
        ),
        (
            "sources: [{name: a, url: x}]\napi_token: 12345",
            "api_token: a secret must not be written",
        ),
        (
            "sources: [{name: a, url: x}]\n"
            "catalog: {url: 'postgresql://cardex:pw@db/catalog'}",
            "catalog.url: the catalog URL contains a password",
        ),
    ],
)
def test_inline_secrets_rejected(tmp_path, text, where):
    message = load_error(tmp_path, text)
    assert where in message
    assert "hunter2" not in message


def test_secret_reference_reads_env(monkeypatch):
    monkeypatch.setenv("CARDEX_TEST_SECRET", "s3cret")
    assert SecretReference(env="CARDEX_TEST_SECRET").resolve() == "s3cret"


def test_secret_reference_missing_env(monkeypatch):
    monkeypatch.delenv("CARDEX_TEST_SECRET", raising=False)
    with pytest.raises(ConfigError, match="CARDEX_TEST_SECRET is not set"):
        SecretReference(env="CARDEX_TEST_SECRET").resolve()


def test_secret_reference_reads_file_first_line(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("  s3cret  \nsecond line\n", encoding="utf-8")
    assert SecretReference(file=path).resolve() == "s3cret"


def test_secret_reference_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read secret file"):
        SecretReference(file=tmp_path / "absent.txt").resolve()


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "absent.yaml")


def test_invalid_yaml(tmp_path):
    assert "is not valid YAML" in load_error(tmp_path, "sources: [\n")


def test_yaml_list_rejected(tmp_path):
    assert "must contain a mapping" in load_error(tmp_path, "- a\n- b\n")
