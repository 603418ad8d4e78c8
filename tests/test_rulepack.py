import json
import subprocess
import sys

import pytest

from classifiers.rulepack import load_rule_pack
from scanner.errors import RulePackError

DOMAIN_IDS = {
    "pi.name",
    "pi.phone",
    "pi.email",
    "pi.address",
    "pi.birth_date",
    "pi.gender",
    "pi.ip_address",
    "pi.device_id",
    "pi.vin",
    "pi.licence_plate",
    "pi.account",
    "spi.id_number",
    "spi.bank_card",
    "spi.location",
    "spi.biometric",
    "spi.cabin_media",
    "spi.health",
    "spi.credential",
    "spi.religion",
    "spi.minor",
    "imp.driving_automation.exterior_media",
    "imp.driving_automation.point_cloud",
    "imp.driving_automation.geodata",
    "imp.connected_operation.vehicle_flow",
    "imp.connected_operation.charging_network",
    "imp.connected_operation.remote_control",
    "imp.software_upgrade.ota",
    "imp.rd_design.controlled",
    "imp.production.capacity",
    "imp.sensitive_area",
    "imp.personal_volume",
    "flag.surveying",
    "flag.core_candidate",
    "flag.export_control",
    "flag.anonymised",
}


def test_shipped_pack_has_every_label_id():
    pack = load_rule_pack()
    assert set(pack.labels) == DOMAIN_IDS
    assert pack.version


def test_important_rules_are_provisional():
    pack = load_rule_pack()
    for label in pack.labels.values():
        if label.category == "important":
            assert label.provisional, label.id


def test_user_pack_overrides_fields(tmp_path):
    rules = tmp_path / "acme.yaml"
    rules.write_text(
        "name: acme\nversion: '3'\nthresholds: {min_share: 0.4}\n"
        "labels:\n  - id: pi.account\n    name_hints: {en: [dealer_login]}\n",
        encoding="utf-8",
    )
    pack = load_rule_pack(rules)
    assert pack.version.endswith("+acme-3")
    assert pack["pi.account"].name_hints.en == ("dealer_login",)
    assert pack["pi.account"].category == "personal"
    assert pack.thresholds.min_share == 0.4
    assert pack.thresholds.min_sparse_matches == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: x\nversion: '1'\nlabels: [{id: pi.phone, value_rules: "
            "[{id: r, validator: nope, confidence: 0.5}]}]",
            "unknown validator 'nope'",
        ),
        ("name: x\nversion: '1'\nlabels: [{id: pi.new}]", "category"),
        ("name: x\nlabels: []", "needs a 'version'"),
        ("- just\n- a list", "must be a mapping"),
        ("name: [unclosed", "not valid YAML"),
        (
            "name: x\nversion: '1'\nlabels: [{id: pi.phone, typo_field: 1}]",
            "typo_field",
        ),
    ],
)
def test_invalid_user_pack_is_rejected(tmp_path, text, message):
    rules = tmp_path / "bad.yaml"
    rules.write_text(text, encoding="utf-8")
    with pytest.raises(RulePackError, match=message):
        load_rule_pack(rules)


def test_replacement_pack_changes_scan_result(tmp_path):
    data = tmp_path / "fleet.csv"
    data.write_text(
        "crm_handle,score\nwx_abc123,5\nwx_def456,7\nwx_ghi789,3\n", encoding="utf-8"
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "name: acme\nversion: '1'\nlabels:\n  - id: pi.account\n"
        "    name_hints: {en: [crm_handle]}\n    name_confidence: 0.8\n",
        encoding="utf-8",
    )

    def labels(*extra):
        report = tmp_path / "r.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scanner",
                "scan",
                str(data),
                "--no-catalog",
                "--report",
                str(report),
                *extra,
            ],
            check=True,
            capture_output=True,
        )
        columns = json.loads(report.read_text())["datasets"][0]["columns"]
        return {c["name"]: [label["id"] for label in c["labels"]] for c in columns}

    assert labels()["crm_handle"] == []
    assert labels("--rules", str(rules))["crm_handle"] == ["pi.account"]
