"""Push targets, the push plan and the evidence text, without a remote catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import UsageError
from scanner.plugins import WRITERS, load_plugins
from scanner.writers.base import CatalogWriter, ExpectedLabel, PushedRecord, RemoteLabel
from scanner.writers.config import parse_target
from scanner.writers.evidence import evidence_text, expected_labels
from scanner.writers.locate import field_names, locate
from scanner.writers.plan import plan_dataset

KEY = ("phone", "pi.phone")


def expected(state: str = "suggested", evidence: str = "rule r") -> ExpectedLabel:
    return ExpectedLabel(
        column="phone",
        label_id="pi.phone",
        category="personal",
        state=state,  # type: ignore[arg-type]
        evidence=evidence,
        decided_by="alice" if state == "confirmed" else None,
    )


# -- targets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "catalog", "transport"),
    [
        ("datahub+https://datahub.example:8080", "datahub", "rest"),
        ("datahub-file:out.json", "datahub", "file"),
        ("datahub-lite:lite.duckdb", "datahub", "lite"),
        ("openmetadata+https://om.example", "openmetadata", "rest"),
    ],
)
def test_target_forms(target: str, catalog: str, transport: str) -> None:
    config = parse_target(target)
    assert config.catalog == catalog
    assert config.transport == transport


def test_openmetadata_target_gets_api_path() -> None:
    assert parse_target("openmetadata+https://om.example").server == (
        "https://om.example/api"
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("datahub:host", "invalid push target"),
        ("datahub+ftp://host", "invalid push target"),
        ("datahub-file:", "invalid push target"),
        ("datahub+https://h?token=abc", "token_env"),
        ("datahub+https://me:abc@h", "user or password"),
        ("datahub+https://h?colour=red", "unknown option 'colour'"),
        ("datahub+https://h?vocabulary=labels", "vocabulary"),
        ("datahub+https://h?retries=99", "retries"),
    ],
)
def test_invalid_targets(target: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_target(target)
    assert "abc" not in str(caught.value)


def test_query_wins_over_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "push.yaml"
    config_file.write_text("env: DEV\nvocabulary: glossary\n", encoding="utf-8")
    config = parse_target(f"datahub-file:x.json?config={config_file}&env=PROD")
    assert config.env == "PROD"
    assert config.vocabulary == "glossary"


def test_config_file_unknown_key(tmp_path: Path) -> None:
    config_file = tmp_path / "push.yaml"
    config_file.write_text(
        "mappings:\n  - prefix: /a\n    platfrom: s3\n", encoding="utf-8"
    )
    with pytest.raises(UsageError, match="mappings.0.platfrom"):
        parse_target("datahub-file:x.json", config_file)


def test_token_from_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_DATAHUB_TOKEN", "t-123")
    config = parse_target("datahub+https://h?token_env=MY_DATAHUB_TOKEN")
    assert config.token() == "t-123"
    assert "t-123" not in repr(config)
    assert config.target_id == "datahub+https://h"


def test_longest_mapping_prefix_wins(tmp_path: Path) -> None:
    config_file = tmp_path / "push.yaml"
    config_file.write_text(
        "mappings:\n"
        "  - {prefix: /data/, platform: file}\n"
        "  - {prefix: /data/lake/, platform: s3}\n",
        encoding="utf-8",
    )
    config = parse_target("datahub-file:x.json", config_file)
    mapping = config.mapping_for("/data/lake/a.csv")
    assert mapping is not None
    assert mapping.platform == "s3"


# -- locations ----------------------------------------------------------------------


def test_locate_table_with_escaped_names() -> None:
    location = locate("postgresql://u@h/db/my%2Fschema/t%3Fx", None)
    assert location.database == "db"
    assert location.schema == "my/schema"
    assert location.table == "t?x"


def test_field_names_drop_list_markers() -> None:
    assert field_names("owner.phones[].number") == ["owner", "phones", "number"]
    assert field_names("tags[]") == ["tags"]


# -- plan -------------------------------------------------------------------------

OWNED = RemoteLabel("phone", "pi.phone", owned=True, fingerprint=expected().fingerprint)
PERSON = RemoteLabel("phone", "pi.phone", owned=False)
APPLIED = PushedRecord("applied", expected().fingerprint)


@pytest.mark.parametrize(
    ("is_expected", "rejected", "remote", "record", "action"),
    [
        # In force locally.
        (True, False, None, None, "add"),
        (True, False, OWNED, APPLIED, None),
        (True, False, OWNED, None, None),
        (True, False, PERSON, None, "skip"),
        (True, False, PERSON, APPLIED, "skip"),
        (True, False, None, APPLIED, "skip"),
        # A stale suggestion or a rejected label.
        (False, False, OWNED, APPLIED, "remove"),
        (False, True, OWNED, APPLIED, "remove"),
        (False, False, OWNED, None, "skip"),
        (False, False, PERSON, APPLIED, None),
        (False, True, PERSON, None, "skip"),
        (False, False, None, APPLIED, None),
    ],
)
def test_plan_cases(
    is_expected: bool,
    rejected: bool,
    remote: RemoteLabel | None,
    record: PushedRecord | None,
    action: str | None,
) -> None:
    plan = plan_dataset(
        "uri",
        "remote",
        {KEY: expected()} if is_expected else {},
        {KEY} if rejected else set(),
        {KEY: remote} if remote else {},
        {KEY: record} if record else {},
    )
    actions = [change.action for change in plan.changes]
    assert actions == ([action] if action else [])


def test_plan_updates_changed_evidence() -> None:
    changed = expected(evidence="rule r, new counts")
    plan = plan_dataset("uri", "remote", {KEY: changed}, set(), {KEY: OWNED}, {})
    assert [change.action for change in plan.changes] == ["update"]
    assert plan.records[KEY] == PushedRecord("applied", changed.fingerprint, "remote")


def test_plan_updates_confirmation() -> None:
    confirmed = expected(state="confirmed")
    plan = plan_dataset("uri", "remote", {KEY: confirmed}, set(), {KEY: OWNED}, {})
    assert [change.action for change in plan.changes] == ["update"]
    assert "confirmed by alice" in plan.changes[0].reason


def test_plan_unreadable_target_trusts_records() -> None:
    plan = plan_dataset("uri", "remote", {}, set(), None, {KEY: APPLIED})
    assert [change.action for change in plan.changes] == ["remove"]
    again = plan_dataset(
        "uri", "remote", {KEY: expected()}, set(), None, {KEY: APPLIED}
    )
    assert again.changes == []
    assert KEY in again.owned_after


def test_plan_remote_removal_recorded() -> None:
    plan = plan_dataset("uri", "remote", {KEY: expected()}, set(), {}, {KEY: APPLIED})
    record = plan.records[KEY]
    assert record is not None
    assert record.status == "removed_remotely"


def test_scan_time_does_not_change_fingerprint() -> None:
    first = ExpectedLabel("c", "pi.phone", "personal", "suggested", "e", scanned_at="1")
    second = ExpectedLabel(
        "c", "pi.phone", "personal", "suggested", "e", scanned_at="2"
    )
    assert first.fingerprint == second.fingerprint
    assert first.description != second.description


# -- evidence -------------------------------------------------------------------------


def test_evidence_drops_unmasked_examples() -> None:
    view = {
        "id": "pi.phone",
        "state": "suggested",
        "source": "scanner",
        "evidence": {
            "rule_id": "pi.phone.mobile",
            "rule_pack_version": "2026.1",
            "matches": 9,
            "non_null": 10,
            "examples": ["138****5678", "13812345678"],
            "signals": ["value 13912345678 in column"],
        },
    }
    text = evidence_text(view)
    assert "138****5678" in text
    assert "13812345678" not in text
    assert "13912345678" not in text
    assert "9 of 10 non-null values matched (90%)" in text


def test_expected_labels_split_rejected() -> None:
    label = {"category": "personal", "source": "scanner", "evidence": None}
    view = {
        "labels": [dict(label, id="spi.location", state="suggested")],
        "columns": [
            {"name": "phone", "labels": [dict(label, id="pi.phone", state="rejected")]},
            {"name": "vin", "labels": [dict(label, id="pi.vin", state="confirmed")]},
        ],
        "other_labels": {"gone": [dict(label, id="pi.name", state="confirmed")]},
    }
    found, rejected = expected_labels(view)
    assert set(found) == {("", "spi.location"), ("vin", "pi.vin"), ("gone", "pi.name")}
    assert rejected == {("phone", "pi.phone")}
    assert found[("vin", "pi.vin")].decided_by == "scanner"


# -- plugins ------------------------------------------------------------------------


def test_writers_discovered_by_entry_point() -> None:
    writers = load_plugins(WRITERS)
    assert {"datahub", "openmetadata"} <= set(writers)
    assert all(issubclass(cls, CatalogWriter) for cls in writers.values())
