"""The OpenMetadata writer against a loopback server that checks each request.

``omserver.OpenMetadataServer`` serves the recorded shapes of OpenMetadata's
REST API and keeps state, so re-applying, changing and people's tags can be
tested. The local catalog is a real SQLite catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from omserver import OpenMetadataServer

from classifiers.rulepack import load_rule_pack
from scanner.catalog.local import LocalCatalog
from scanner.cli import main
from scanner.model import ColumnResult, DatasetResult, Evidence, Label
from scanner.writers import push as push_module
from scanner.writers.config import parse_target
from scanner.writers.openmetadata import OpenMetadataWriter, split_fqn
from scanner.writers.push import push_catalog

RULES = load_rule_pack()
TOKEN = "om-test-token"
URI = "postgresql://etl@pg.example:5432/fleet/public/owners"
FQN = "fleet_pg.fleet.public.owners"
PHONE_TAG = 'cardex."pi.phone"'
COLUMNS = [
    {"name": "phone", "dataType": "VARCHAR"},
    {"name": "contact", "dataType": "VARCHAR"},
    {"name": "vin", "dataType": "VARCHAR"},
    {
        "name": "owner",
        "dataType": "STRUCT",
        "children": [
            {
                "name": "phones",
                "dataType": "ARRAY",
                "children": [{"name": "number", "dataType": "VARCHAR"}],
            }
        ],
    },
]
PERSON_TAG = {
    "tagFQN": "PII.Sensitive",
    "source": "Classification",
    "labelType": "Manual",
    "state": "Confirmed",
}


def _label(label_id: str) -> Label:
    evidence = Evidence(
        rule_id=f"{label_id}.values",
        rule_pack_version=RULES.version,
        examined=200,
        non_null=190,
        matches=180,
        masked_examples=("138****5678",),
    )
    return Label(label_id, RULES[label_id].category, 0.9, evidence)


def record(
    store: LocalCatalog,
    columns: dict[str, list[str]],
    dataset_labels: tuple[str, ...] = (),
) -> None:
    result = DatasetResult(
        uri=URI,
        name="owners",
        kind="table",
        columns=[
            ColumnResult(name, "VARCHAR", 200, 190, [_label(i) for i in ids])
            for name, ids in columns.items()
        ],
        labels=[_label(i) for i in dataset_labels],
    )
    scan_id = store.begin_scan([URI], RULES.version)
    store.record_dataset(scan_id, result)
    store.finish_scan(scan_id, "ok", {})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenMetadataServer]:
    monkeypatch.setenv("OPENMETADATA_TOKEN", TOKEN)
    monkeypatch.setattr(push_module, "RETRY_BASE_SECONDS", 0.01)
    om = OpenMetadataServer(TOKEN).start()
    om.add_table(FQN, COLUMNS)
    yield om
    om.stop()
    om.check_tag_labels()
    assert om.problems == []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalCatalog]:
    catalog = LocalCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.close()


def target(server: OpenMetadataServer, query: str = "") -> str:
    return f"openmetadata+{server.url}?service=fleet_pg{query}"


def push(store: LocalCatalog, server: OpenMetadataServer, **kwargs: Any) -> Any:
    report = push_catalog(store, parse_target(target(server)), rules=RULES, **kwargs)
    assert report.error is None
    assert not report.failed, [d.error for d in report.failed]
    return report


def column_tags(server: OpenMetadataServer, *names: str) -> list[dict[str, Any]]:
    node: dict[str, Any] = {"children": server.table(FQN)["columns"]}
    for name in names:
        node = next(c for c in node["children"] if c["name"] == name)
    return list(node.get("tags") or [])


def fqns(tags: list[dict[str, Any]]) -> list[str]:
    return [tag["tagFQN"] for tag in tags]


def add_person_tag(
    server: OpenMetadataServer, column: str, tag: dict[str, Any]
) -> None:
    for node in server.table(FQN)["columns"]:
        if node["name"] == column:
            node.setdefault("tags", []).append(dict(tag))


# -- names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (URI, FQN),
        ("sqlite:////data/app.db/main/trips", "fleet_pg.app.main.trips"),
        ("mysql://etl@db/crm/crm/v1.owners", 'fleet_pg.crm.crm."v1.owners"'),
    ],
)
def test_table_fqn(uri: str, expected: str) -> None:
    config = parse_target("openmetadata+https://om.example/api?service=fleet_pg")
    writer = OpenMetadataWriter(config)
    try:
        assert writer.dataset_id(uri) == expected
    finally:
        writer.close()


def test_file_fqn_from_mapping(tmp_path: Path) -> None:
    config_file = tmp_path / "push.yaml"
    config_file.write_text(
        "mappings:\n"
        "  - prefix: /data/lake/\n"
        "    service: lake\n"
        "    database: default\n"
        "    schema: lake-bucket\n",
        encoding="utf-8",
    )
    config = parse_target(f"openmetadata+https://om.example?config={config_file}")
    writer = OpenMetadataWriter(config)
    try:
        fqn = writer.dataset_id("/data/lake/trips/day.parquet")
    finally:
        writer.close()
    assert fqn == 'lake.default.lake-bucket."trips/day.parquet"'
    assert split_fqn(fqn) == ["lake", "default", "lake-bucket", "trips/day.parquet"]


def test_missing_service_is_usage_error() -> None:
    writer = OpenMetadataWriter(parse_target("openmetadata+https://om.example/api"))
    try:
        with pytest.raises(ValueError, match="no OpenMetadata service"):
            writer.dataset_id(URI)
    finally:
        writer.close()


# -- pushing ----------------------------------------------------------------------


def test_apply_creates_vocabulary_and_tags(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"], "vin": ["pi.vin"]}, ("spi.location",))
    report = push(store, server)

    assert report.count("add") == 3
    assert "cardex" in server.classifications
    assert server.tags[PHONE_TAG]["displayName"] == "pi.phone 电话号码 / Phone number"
    phone = column_tags(server, "phone")
    assert fqns(phone) == [PHONE_TAG]
    assert phone[0]["labelType"] == "Automated"
    assert phone[0]["state"] == "Suggested"
    assert "rule pi.phone.values" in phone[0]["reason"]
    assert "138****5678" in phone[0]["reason"]
    assert fqns(server.table(FQN)["tags"]) == ['cardex."spi.location"']


def test_every_request_carries_the_token(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, server)

    methods = {method for method, _, _ in server.requests}
    assert methods == {"GET", "POST", "PATCH"}
    assert server.problems == []


def test_reapply_sends_no_writes(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]}, ("spi.location",))
    push(store, server)
    before = len(server.writes())
    again = push(store, server)

    assert again.count("add") == 0
    assert again.count("update") == 0
    assert len(server.writes()) == before
    assert fqns(column_tags(server, "phone")) == [PHONE_TAG]


def test_change_removes_stale_tags(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"], "contact": ["pi.name"]})
    push(store, server)
    record(store, {"phone": ["pi.phone"], "contact": ["pi.email"]})
    report = push(store, server)

    assert report.count("remove") == 1
    assert fqns(column_tags(server, "contact")) == ['cardex."pi.email"']
    patch = [body for method, _, body in server.requests if method == "PATCH"][-1]
    tests = [op for op in patch if op["op"] == "test"]
    assert tests == [
        {"op": "test", "path": "/columns/1/tags/0/tagFQN", "value": 'cardex."pi.name"'}
    ]


def test_person_tags_survive(store: LocalCatalog, server: OpenMetadataServer) -> None:
    record(store, {"phone": ["pi.phone"], "contact": ["pi.name"]})
    push(store, server)
    add_person_tag(server, "phone", PERSON_TAG)
    # A person puts a cardex tag on a column by hand: it is theirs, not cardex's.
    add_person_tag(server, "phone", dict(PERSON_TAG, tagFQN='cardex."pi.name"'))
    record(store, {"phone": [], "contact": []})
    report = push(store, server)

    assert report.count("remove") == 2
    assert fqns(column_tags(server, "phone")) == ["PII.Sensitive", 'cardex."pi.name"']
    assert column_tags(server, "contact") == []


def test_person_cardex_tag_not_claimed(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": []})
    push(store, server)
    add_person_tag(server, "phone", dict(PERSON_TAG, tagFQN=PHONE_TAG))
    record(store, {"phone": ["pi.phone"]})
    claimed = push(store, server)
    record(store, {"phone": []})
    push(store, server)

    assert claimed.count("add") == 0
    assert claimed.count("skip") == 1
    assert column_tags(server, "phone") == [dict(PERSON_TAG, tagFQN=PHONE_TAG)]


def test_confirmed_label_never_removed(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, server)
    store.decide_label(URI, "phone", "pi.phone", "confirmed", "alice")
    updated = push(store, server)
    record(store, {"phone": []})
    report = push(store, server)

    assert updated.count("update") == 1
    assert report.count("remove") == 0
    tag = column_tags(server, "phone")[0]
    assert tag["state"] == "Confirmed"
    assert "confirmed by alice" in tag["reason"]


def test_rejected_label_never_added(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, server)
    store.decide_label(URI, "phone", "pi.phone", "rejected", "bob")
    removed = push(store, server)
    record(store, {"phone": ["pi.phone"]})
    again = push(store, server)

    assert removed.count("remove") == 1
    assert again.count("add") == 0
    assert column_tags(server, "phone") == []


def test_remote_removal_respected(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, server)
    server.table(FQN)["columns"][0]["tags"] = []
    report = push(store, server)

    assert report.count("add") == 0
    assert column_tags(server, "phone") == []


def test_nested_column_path(store: LocalCatalog, server: OpenMetadataServer) -> None:
    record(store, {"owner.phones[].number": ["pi.phone"]})
    push(store, server)
    again = push(store, server)

    assert fqns(column_tags(server, "owner", "phones", "number")) == [PHONE_TAG]
    assert again.count("add") == 0


def test_unknown_column_skipped(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"], "email_addr": ["pi.email"]})
    report = push(store, server)

    skipped = [c for d in report.datasets for c in d.changes if c.action == "skip"]
    assert [(c.column, c.label_id) for c in skipped] == [("email_addr", "pi.email")]
    assert fqns(column_tags(server, "phone")) == [PHONE_TAG]


def test_missing_table_fails_dataset(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]})
    del server.tables[FQN]
    report = push_catalog(store, parse_target(target(server)), rules=RULES)

    assert report.status == "failed"
    assert "not found in OpenMetadata" in (report.failed[0].error or "")


def test_transient_failures_retried(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]})
    server.failures = [503, 503]
    report = push(store, server)

    assert report.count("add") == 1
    assert fqns(column_tags(server, "phone")) == [PHONE_TAG]


def test_retries_are_bounded(store: LocalCatalog, server: OpenMetadataServer) -> None:
    record(store, {"phone": ["pi.phone"]})
    server.failures = [503] * 20
    report = push_catalog(
        store, parse_target(target(server, "&retries=2")), rules=RULES
    )

    assert report.status == "failed"
    assert "HTTP 503" in (report.error or "")
    assert len(server.requests) == 3


def test_dry_run_writes_nothing(
    store: LocalCatalog, server: OpenMetadataServer
) -> None:
    record(store, {"phone": ["pi.phone"]})
    report = push(store, server, dry_run=True)

    assert report.count("add") == 1
    assert server.writes() == []


# -- command line ------------------------------------------------------------------


def test_cli_push_and_exit_codes(
    store: LocalCatalog, server: OpenMetadataServer, tmp_path: Path
) -> None:
    record(store, {"phone": ["pi.phone"]})
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    runner = CliRunner()
    dry = runner.invoke(
        main, ["push", target(server), "--catalog", catalog, "--dry-run"]
    )
    done = runner.invoke(main, ["push", target(server), "--catalog", catalog])
    bad = runner.invoke(main, ["push", "openmetadata+ftp://x", "--catalog", catalog])

    assert dry.exit_code == 0, dry.output
    assert "add    pi.phone on column phone" in dry.output
    assert done.exit_code == 0, done.output
    assert "1 added" in done.output
    assert bad.exit_code == 2
    assert "invalid push target" in bad.output


def test_cli_bad_token_fails_without_printing_it(
    store: LocalCatalog,
    server: OpenMetadataServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record(store, {"phone": ["pi.phone"]})
    monkeypatch.setenv("OPENMETADATA_TOKEN", "wrong-secret-4711")
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    result = CliRunner().invoke(main, ["push", target(server), "--catalog", catalog])

    assert result.exit_code == 1
    assert "check the token" in result.output
    assert "wrong-secret-4711" not in result.output


def test_cli_token_in_target_rejected(tmp_path: Path) -> None:
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    LocalCatalog(catalog).close()
    result = CliRunner().invoke(
        main,
        [
            "push",
            "openmetadata+https://om.example/api?token=s3cret",
            "--catalog",
            catalog,
        ],
    )

    assert result.exit_code == 2
    assert "s3cret" not in result.output
    assert "token_env" in result.output
