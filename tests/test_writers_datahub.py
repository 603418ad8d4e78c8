"""The DataHub writer against a DataHub Lite store and a proposals file.

The local catalog is a real SQLite catalog. DataHub Lite's DuckDB store in
tmp_path takes the place of the server and is read back through its own API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["DATAHUB_TELEMETRY_ENABLED"] = "false"
pytest.importorskip("datahub.lite.lite_util")

from datahub.emitter.mcp import MetadataChangeProposalWrapper  # noqa: E402
from datahub.lite.lite_util import get_datahub_lite  # noqa: E402
from datahub.metadata import schema_classes as models  # noqa: E402

from classifiers.rulepack import load_rule_pack  # noqa: E402
from scanner.catalog.local import LocalCatalog  # noqa: E402
from scanner.model import ColumnResult, DatasetResult, Evidence, Label  # noqa: E402
from scanner.writers.config import parse_target  # noqa: E402
from scanner.writers.datahub import DataHubWriter, replace_block  # noqa: E402
from scanner.writers.push import push_catalog  # noqa: E402

# DataHub Lite (acryl-datahub 1.7) calls its own deprecated Urn.get_type when
# it closes a store it wrote.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Call to deprecated method:DeprecationWarning"
)
RULES = load_rule_pack()
URI = "sqlite:////data/fleet.db/main/owners"
URN = "urn:li:dataset:(urn:li:dataPlatform:sqlite,fleet.owners,PROD)"
PERSON_TAG = "urn:li:tag:pii-reviewed"


def _label(label_id: str, examples: tuple[str, ...] = ("138****5678",)) -> Label:
    evidence = Evidence(
        rule_id=f"{label_id}.values",
        rule_pack_version=RULES.version,
        examined=200,
        non_null=190,
        matches=180,
        masked_examples=examples,
    )
    return Label(label_id, RULES[label_id].category, 0.9, evidence)


def record(
    store: LocalCatalog,
    columns: dict[str, list[str]],
    dataset_labels: tuple[str, ...] = (),
    uri: str = URI,
) -> None:
    """Record one scan of ``uri`` with the given labels, as the scanner would."""
    result = DatasetResult(
        uri=uri,
        name=uri.rsplit("/", 1)[-1],
        kind="table",
        columns=[
            ColumnResult(name, "VARCHAR", 200, 190, [_label(i) for i in ids])
            for name, ids in columns.items()
        ],
        labels=[_label(i) for i in dataset_labels],
        sampled_rows=200,
    )
    scan_id = store.begin_scan([uri], RULES.version)
    store.record_dataset(scan_id, result)
    store.finish_scan(scan_id, "ok", {})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalCatalog]:
    catalog = LocalCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.close()


@pytest.fixture
def lite_path(tmp_path: Path) -> Path:
    return tmp_path / "lite.duckdb"


def push(store: LocalCatalog, target: str, **kwargs: Any) -> Any:
    report = push_catalog(store, parse_target(target), rules=RULES, **kwargs)
    assert report.error is None
    assert not report.failed, [d.error for d in report.failed]
    return report


def read(lite_path: Path, urn: str, aspect: type[Any]) -> Any:
    config = {"file": str(lite_path), "read_only": True}
    lite = get_datahub_lite({"type": "duckdb", "config": config})
    try:
        found = lite.get(urn, [aspect.ASPECT_NAME], typed=True) or {}
        return found.get(aspect.ASPECT_NAME)
    finally:
        lite.close()


def write(lite_path: Path, urn: str, aspect: Any) -> None:
    lite = get_datahub_lite({"type": "duckdb", "config": {"file": str(lite_path)}})
    try:
        lite.write(MetadataChangeProposalWrapper(entityUrn=urn, aspect=aspect))
    finally:
        lite.close()


def field_tags(lite_path: Path, field_path: str) -> list[Any]:
    editable = read(lite_path, URN, models.EditableSchemaMetadataClass)
    assert editable is not None
    for info in editable.editableSchemaFieldInfo:
        if info.fieldPath == field_path:
            return list(info.globalTags.tags) if info.globalTags else []
    return []


def tag_urns(lite_path: Path, field_path: str) -> list[str]:
    return [association.tag for association in field_tags(lite_path, field_path)]


def dataset_tag_urns(lite_path: Path) -> list[str]:
    tags = read(lite_path, URN, models.GlobalTagsClass)
    return [association.tag for association in tags.tags] if tags else []


def add_person_tag(lite_path: Path, field_path: str, tag: str) -> None:
    """Add a tag to a field as DataHub's UI would: no context, no attribution."""
    editable = read(lite_path, URN, models.EditableSchemaMetadataClass)
    if editable is None:
        editable = models.EditableSchemaMetadataClass(editableSchemaFieldInfo=[])
    for info in editable.editableSchemaFieldInfo:
        if info.fieldPath == field_path:
            info.globalTags = info.globalTags or models.GlobalTagsClass([])
            info.globalTags.tags.append(models.TagAssociationClass(tag=tag))
            break
    else:
        editable.editableSchemaFieldInfo.append(
            models.EditableSchemaFieldInfoClass(
                fieldPath=field_path,
                globalTags=models.GlobalTagsClass([models.TagAssociationClass(tag)]),
            )
        )
    write(lite_path, URN, editable)


# -- identifiers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "query", "urn"),
    [
        (URI, "", URN),
        (
            "postgresql://etl@pg.example:5432/fleet/public/owners",
            "?platform_instance=cn-prod&env=DEV",
            "urn:li:dataset:(urn:li:dataPlatform:postgres,"
            "cn-prod.fleet.public.owners,DEV)",
        ),
        (
            "mysql+pymysql://etl@db.example/crm/crm/owners",
            "",
            "urn:li:dataset:(urn:li:dataPlatform:mysql,crm.owners,PROD)",
        ),
        (
            "/data/lake/trips/2026/day.parquet",
            "",
            "urn:li:dataset:(urn:li:dataPlatform:file,data/lake/trips/2026/day.parquet,PROD)",
        ),
        (
            "s3://lake/trips/day.parquet",
            "",
            "urn:li:dataset:(urn:li:dataPlatform:s3,lake/trips/day.parquet,PROD)",
        ),
    ],
)
def test_dataset_urn_mapping(uri: str, query: str, urn: str, tmp_path: Path) -> None:
    writer = DataHubWriter(parse_target(f"datahub-file:{tmp_path / 'p.json'}{query}"))
    assert writer.dataset_id(uri) == urn


def test_dataset_urn_from_mapping_file(tmp_path: Path) -> None:
    config = tmp_path / "push.yaml"
    config.write_text(
        "mappings:\n"
        "  - prefix: /data/lake/\n"
        "    platform: s3\n"
        "    name_prefix: lake-bucket/\n"
        "    platform_instance: cn-north\n"
        "    env: PROD\n",
        encoding="utf-8",
    )
    target = f"datahub-file:{tmp_path / 'p.json'}?config={config}"
    writer = DataHubWriter(parse_target(target))
    urn = writer.dataset_id("/data/lake/trips/day.parquet")
    assert urn == (
        "urn:li:dataset:(urn:li:dataPlatform:s3,"
        "cn-north.lake-bucket/trips/day.parquet,PROD)"
    )


def test_description_block_keeps_person_text() -> None:
    first = replace_block("Owner table, kept by the CRM team.", "cardex labels:\n- a")
    assert first is not None
    assert first.startswith("Owner table, kept by the CRM team.")
    second = replace_block(first, "cardex labels:\n- b")
    assert second is not None
    assert "- a" not in second
    assert "- b" in second
    assert second.startswith("Owner table, kept by the CRM team.")
    assert replace_block(second, "") == "Owner table, kept by the CRM team."


# -- DataHub Lite ---------------------------------------------------------------


def test_lite_apply_writes_tags_and_vocabulary(
    store: LocalCatalog, lite_path: Path
) -> None:
    record(store, {"phone": ["pi.phone"], "vin": ["pi.vin"]}, ("spi.location",))
    report = push(store, f"datahub-lite:{lite_path}")

    assert report.count("add") == 3
    assert "pi.phone" in report.vocabulary_created
    assert tag_urns(lite_path, "phone") == ["urn:li:tag:cardex.pi.phone"]
    assert tag_urns(lite_path, "vin") == ["urn:li:tag:cardex.pi.vin"]
    assert dataset_tag_urns(lite_path) == ["urn:li:tag:cardex.spi.location"]
    association = field_tags(lite_path, "phone")[0]
    assert association.context == "cardex"
    assert association.attribution.actor == "urn:li:corpuser:cardex"
    assert "138****5678" in association.attribution.sourceDetail["evidence"]
    properties = read(
        lite_path, "urn:li:tag:cardex.pi.phone", models.TagPropertiesClass
    )
    assert "电话号码" in properties.name
    assert properties.description.startswith("电话号码")


def test_lite_evidence_in_field_description(
    store: LocalCatalog, lite_path: Path
) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, f"datahub-lite:{lite_path}")

    editable = read(lite_path, URN, models.EditableSchemaMetadataClass)
    description = editable.editableSchemaFieldInfo[0].description
    assert "pi.phone" in description
    assert "rule pi.phone.values" in description
    assert f"rule pack {RULES.version}" in description
    assert "180 of 190 non-null values matched" in description
    assert "138****5678" in description


def test_lite_reapply_changes_nothing(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"]}, ("spi.location",))
    push(store, f"datahub-lite:{lite_path}")
    again = push(store, f"datahub-lite:{lite_path}")

    assert again.count("add") == 0
    assert again.count("update") == 0
    assert again.count("remove") == 0
    assert again.vocabulary_created == []
    assert tag_urns(lite_path, "phone") == ["urn:li:tag:cardex.pi.phone"]
    assert dataset_tag_urns(lite_path) == ["urn:li:tag:cardex.spi.location"]


def test_lite_change_removes_stale_labels(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"], "contact": ["pi.name"]})
    push(store, f"datahub-lite:{lite_path}")
    record(store, {"phone": ["pi.phone"], "contact": ["pi.email"]})
    report = push(store, f"datahub-lite:{lite_path}")

    assert report.count("remove") == 1
    assert report.count("add") == 1
    assert tag_urns(lite_path, "contact") == ["urn:li:tag:cardex.pi.email"]
    assert tag_urns(lite_path, "phone") == ["urn:li:tag:cardex.pi.phone"]


def test_lite_person_tags_survive(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"], "contact": ["pi.name"]})
    push(store, f"datahub-lite:{lite_path}")
    add_person_tag(lite_path, "phone", PERSON_TAG)
    # A person puts a cardex tag on a column by hand: it is theirs, not cardex's.
    add_person_tag(lite_path, "contact", "urn:li:tag:cardex.pi.address")

    record(store, {"phone": ["pi.phone", "pi.device_id"], "contact": []})
    report = push(store, f"datahub-lite:{lite_path}")

    phone = tag_urns(lite_path, "phone")
    assert PERSON_TAG in phone
    assert "urn:li:tag:cardex.pi.device_id" in phone
    assert phone.count("urn:li:tag:cardex.pi.phone") == 1
    assert tag_urns(lite_path, "contact") == ["urn:li:tag:cardex.pi.address"]
    assert report.count("remove") == 1


def test_lite_person_tag_not_claimed(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": []})
    push(store, f"datahub-lite:{lite_path}")
    add_person_tag(lite_path, "phone", "urn:li:tag:cardex.pi.phone")
    record(store, {"phone": ["pi.phone"]})
    report = push(store, f"datahub-lite:{lite_path}")

    skipped = [c for d in report.datasets for c in d.changes if c.action == "skip"]
    assert [c.label_id for c in skipped] == ["pi.phone"]
    assert field_tags(lite_path, "phone")[0].context is None

    record(store, {"phone": []})
    push(store, f"datahub-lite:{lite_path}")
    assert tag_urns(lite_path, "phone") == ["urn:li:tag:cardex.pi.phone"]


def test_lite_confirmed_label_never_removed(
    store: LocalCatalog, lite_path: Path
) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, f"datahub-lite:{lite_path}")
    store.decide_label(URI, "phone", "pi.phone", "confirmed", "alice")
    updated = push(store, f"datahub-lite:{lite_path}")
    record(store, {"phone": []})
    report = push(store, f"datahub-lite:{lite_path}")

    assert updated.count("update") == 1
    assert report.count("remove") == 0
    association = field_tags(lite_path, "phone")[0]
    assert association.tag == "urn:li:tag:cardex.pi.phone"
    assert association.attribution.sourceDetail["state"] == "confirmed"
    assert "confirmed by alice" in association.attribution.sourceDetail["evidence"]


def test_lite_rejected_label_never_added(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, f"datahub-lite:{lite_path}")
    store.decide_label(URI, "phone", "pi.phone", "rejected", "bob")
    removed = push(store, f"datahub-lite:{lite_path}")
    record(store, {"phone": ["pi.phone"]})
    again = push(store, f"datahub-lite:{lite_path}")

    assert removed.count("remove") == 1
    assert again.count("add") == 0
    assert tag_urns(lite_path, "phone") == []


def test_lite_rejected_before_first_push(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"], "vin": ["pi.vin"]})
    store.decide_label(URI, "phone", "pi.phone", "rejected", "bob")
    push(store, f"datahub-lite:{lite_path}")

    assert tag_urns(lite_path, "phone") == []
    assert tag_urns(lite_path, "vin") == ["urn:li:tag:cardex.pi.vin"]


def test_lite_remote_removal_respected(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"]})
    push(store, f"datahub-lite:{lite_path}")
    editable = read(lite_path, URN, models.EditableSchemaMetadataClass)
    editable.editableSchemaFieldInfo[0].globalTags.tags = []
    write(lite_path, URN, editable)

    report = push(store, f"datahub-lite:{lite_path}")

    assert report.count("add") == 0
    reasons = [c.reason for d in report.datasets for c in d.changes]
    assert any("not added again" in reason for reason in reasons)
    assert tag_urns(lite_path, "phone") == []


def test_lite_unrecorded_cardex_tag_left(store: LocalCatalog, tmp_path: Path) -> None:
    lite_path = tmp_path / "lite.duckdb"
    record(store, {"phone": ["pi.phone"]})
    push(store, f"datahub-lite:{lite_path}")
    # A second local catalog never pushed this label, so it must not remove it.
    other = LocalCatalog(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        record(other, {"phone": []})
        report = push(other, f"datahub-lite:{lite_path}")
    finally:
        other.close()

    assert report.count("remove") == 0
    assert tag_urns(lite_path, "phone") == ["urn:li:tag:cardex.pi.phone"]


def test_lite_nested_field_uses_schema_path(
    store: LocalCatalog, lite_path: Path
) -> None:
    v2_path = (
        "[version=2.0].[type=struct].[type=struct].owner."
        "[type=array].[type=struct].phones.[type=string].number"
    )
    schema = models.SchemaMetadataClass(
        schemaName="owners",
        platform="urn:li:dataPlatform:sqlite",
        version=0,
        hash="",
        platformSchema=models.OtherSchemaClass(rawSchema=""),
        fields=[
            models.SchemaFieldClass(
                fieldPath=v2_path,
                type=models.SchemaFieldDataTypeClass(models.StringTypeClass()),
                nativeDataType="string",
            )
        ],
    )
    write(lite_path, URN, schema)
    record(store, {"owner.phones[].number": ["pi.phone"]})
    push(store, f"datahub-lite:{lite_path}")
    again = push(store, f"datahub-lite:{lite_path}")

    assert tag_urns(lite_path, v2_path) == ["urn:li:tag:cardex.pi.phone"]
    assert again.count("add") == 0


def test_lite_glossary_terms(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"]}, ("spi.location",))
    push(store, f"datahub-lite:{lite_path}?vocabulary=glossary")
    again = push(store, f"datahub-lite:{lite_path}?vocabulary=glossary")

    terms = read(lite_path, URN, models.GlossaryTermsClass)
    assert [term.urn for term in terms.terms] == [
        "urn:li:glossaryTerm:cardex.spi.location"
    ]
    editable = read(lite_path, URN, models.EditableSchemaMetadataClass)
    field_terms = editable.editableSchemaFieldInfo[0].glossaryTerms.terms
    assert [term.urn for term in field_terms] == ["urn:li:glossaryTerm:cardex.pi.phone"]
    info = read(
        lite_path, "urn:li:glossaryTerm:cardex.pi.phone", models.GlossaryTermInfoClass
    )
    assert info.parentNode == "urn:li:glossaryNode:cardex"
    assert info.customProperties["name_zh"] == "电话号码"
    assert again.count("add") == 0


def test_lite_dry_run_writes_nothing(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"]})
    report = push(store, f"datahub-lite:{lite_path}", dry_run=True)
    real = push(store, f"datahub-lite:{lite_path}")

    assert report.count("add") == 1
    assert "pi.phone" in report.vocabulary_created
    assert real.count("add") == 1


# -- proposals file ---------------------------------------------------------------


def _patch_ops(path: Path) -> list[tuple[str, str]]:
    proposals = json.loads(path.read_text(encoding="utf-8"))
    ops = []
    for proposal in proposals:
        if proposal.get("changeType") != "PATCH":
            continue
        for op in proposal["aspect"]["json"]:
            ops.append((op["op"], op["path"]))
    return ops


def test_file_target_patches(store: LocalCatalog, tmp_path: Path) -> None:
    out = tmp_path / "proposals.json"
    record(store, {"phone": ["pi.phone"], "contact": ["pi.name"]})
    push(store, f"datahub-file:{out}")
    first = _patch_ops(out)
    record(store, {"phone": ["pi.phone"], "contact": []})
    push(store, f"datahub-file:{out}")
    second = _patch_ops(out)

    add_phone = (
        "add",
        "/editableSchemaFieldInfo/phone/globalTags/tags/urn:li:tag:cardex.pi.phone",
    )
    remove_name = (
        "remove",
        "/editableSchemaFieldInfo/contact/globalTags/tags/urn:li:tag:cardex.pi.name",
    )
    assert add_phone in first
    assert add_phone in second
    assert remove_name in second
    assert remove_name not in first
    assert all(op != "replace" for op, _ in second)


def test_file_write_failure_keeps_records(store: LocalCatalog, tmp_path: Path) -> None:
    out = tmp_path / "proposals.json"
    out.mkdir()  # a folder where the file should be: the write fails
    record(store, {"phone": ["pi.phone"]})
    failed = push_catalog(store, parse_target(f"datahub-file:{out}"), rules=RULES)
    out.rmdir()
    retried = push(store, f"datahub-file:{out}")

    assert failed.status == "failed"
    assert "cannot write DataHub proposals" in (failed.error or "")
    assert retried.count("add") == 1
    assert "urn:li:tag:cardex.pi.phone" in out.read_text(encoding="utf-8")


# -- Lite targets that are not Lite stores ------------------------------------


def _records(store: LocalCatalog, target: str) -> dict[Any, Any]:
    from scanner.writers.state import PushRecords

    return PushRecords(store, parse_target(target).target_id).read(URI)


def test_lite_rejects_json_file(store: LocalCatalog, tmp_path: Path) -> None:
    from scanner.errors import UsageError

    proposals = tmp_path / "proposals.json"
    proposals.write_text('[{"entityType": "dataset"}]\n', encoding="utf-8")
    before = proposals.read_bytes()
    target = f"datahub-lite:{proposals}"
    record(store, {"phone": ["pi.phone"]})

    with pytest.raises(UsageError, match="is not a DuckDB database"):
        push_catalog(store, parse_target(target), rules=RULES)
    assert proposals.read_bytes() == before
    assert _records(store, target) == {}


def test_lite_rejects_file_as_folder(store: LocalCatalog, tmp_path: Path) -> None:
    from scanner.errors import UsageError

    blocker = tmp_path / "report.json"
    blocker.write_text("{}", encoding="utf-8")
    record(store, {"phone": ["pi.phone"]})
    target = parse_target(f"datahub-lite:{blocker / 'lite.duckdb'}")

    with pytest.raises(UsageError, match="report.json is not a directory"):
        push_catalog(store, target, rules=RULES)


def test_lite_dry_run_creates_no_store(store: LocalCatalog, lite_path: Path) -> None:
    record(store, {"phone": ["pi.phone"]})
    report = push(store, f"datahub-lite:{lite_path}", dry_run=True)

    assert report.count("add") == 1
    assert not lite_path.exists()
    assert _records(store, f"datahub-lite:{lite_path}") == {}


def test_push_command_rejects_json_lite(store: LocalCatalog, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli import main

    proposals = tmp_path / "proposals.json"
    proposals.write_text("[]\n", encoding="utf-8")
    record(store, {"phone": ["pi.phone"]})
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    arguments = ["push", f"datahub-lite:{proposals}", "--catalog", catalog]
    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 2, result.output
    assert "not a DuckDB database" in result.output
    assert proposals.read_text(encoding="utf-8") == "[]\n"


def test_file_target_below_file_rejected(store: LocalCatalog, tmp_path: Path) -> None:
    from scanner.errors import UsageError

    blocker = tmp_path / "scan.json"
    blocker.write_text("{}", encoding="utf-8")
    target = parse_target(f"datahub-file:{blocker / 'proposals.json'}")
    record(store, {"phone": ["pi.phone"]})

    with pytest.raises(UsageError, match="scan.json is not a directory"):
        push_catalog(store, target, rules=RULES)


def test_failed_file_push_counts_nothing(store: LocalCatalog, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli import main

    out = tmp_path / "proposals.json"
    out.mkdir()
    record(store, {"phone": ["pi.phone"]})
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    arguments = ["push", f"datahub-file:{out}", "--catalog", catalog]
    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 1, result.output
    assert "pushed 0 of 1 datasets; 1 failed" in result.output
    assert "proposed" not in result.output
    assert "cannot write DataHub proposals" in result.output


def test_file_push_summary_wording(store: LocalCatalog, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli import main

    record(store, {"phone": ["pi.phone"]})
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    target = f"datahub-file:{tmp_path / 'proposals.json'}"
    result = CliRunner().invoke(main, ["push", target, "--catalog", catalog])

    assert result.exit_code == 0, result.output
    assert "pushed 1 of 1 datasets: 1 added" in result.output
    assert "proposed 1 tags or terms" in result.output
