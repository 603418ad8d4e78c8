"""Accuracy floors on third-party data, through bench/external_accuracy.py.

The floors are the figures measured when the benchmark was written, minus a
margin of about one or two columns per source, so that a regression in a
classifier fails here. Raise a floor when a fix lifts the figure for good.
The material lives under ``$CARDEX_DATASETS`` (default ``../shared/datasets``
beside the repository); without it every test is skipped.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.datasets, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "external_accuracy.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("external_accuracy", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


bench = _load_script()


@pytest.fixture(scope="module")
def root() -> Path:
    path = bench.default_datasets_path()
    if not path.is_dir():
        pytest.skip(f"test datasets not found at {path}; set {bench.DATASETS_ENV}")
    return path


def _source(root: Path, folder: str):
    if not (root / folder).is_dir():
        pytest.skip(f"{folder} is not in {root}")
    return bench.EVALUATIONS[folder](root)


@pytest.fixture(scope="module")
def datahub(root):
    return _source(root, "datahub-classify")


@pytest.fixture(scope="module")
def cn_ids(root):
    return _source(root, "cn-id-number-vectors")


@pytest.fixture(scope="module")
def renault(root):
    return _source(root, "renault-api")


@pytest.fixture(scope="module")
def trackintel(root):
    return _source(root, "trackintel")


@pytest.fixture(scope="module")
def piicatcher(root):
    return _source(root, "piicatcher")


@pytest.fixture(scope="module")
def presidio(root):
    return _source(root, "presidio")


@pytest.fixture(scope="module")
def addresses(root):
    return _source(root, "neural-chinese-address-parsing")


def _missed(report, key: str, label: str) -> bool:
    """Return whether the truth's ``label`` on ``key`` (file:column) was missed."""
    return key in report.per_label[label].misses


def test_datahub_precision_floor(datahub):
    assert datahub.total.precision >= 0.95, datahub.total.false_alarms


def test_datahub_recall_floor(datahub):
    assert datahub.total.recall >= 0.85, datahub.total.misses


def test_datahub_every_card_and_ssn_found(datahub):
    by_type = datahub.figures["ours_by_info_type"]
    for info_type in ("Credit_Debit_Card_Number", "US_Social_Security_Number", "IBAN"):
        counts = by_type[info_type]
        assert counts["found"] == counts["columns"], info_type


def test_datahub_published_figures_read(datahub):
    published = datahub.figures["published"]
    assert published["Full_Name"]["support"] > 0
    assert set(bench.DATAHUB_TO_CARDEX) <= set(published)


def test_resident_id_validator_agreement(cn_ids):
    assert cn_ids.figures["agreement"] >= 0.97, cn_ids.figures["disagreements"]


def test_resident_id_rejects_bad_checksums(cn_ids):
    rejected, _, total = cn_ids.figures["checksum_false_rejected"].split()
    assert rejected == total


def test_resident_id_column_labelled(cn_ids):
    assert cn_ids.total.recall == 1.0, cn_ids.total.misses
    assert cn_ids.total.precision == 1.0, cn_ids.total.false_alarms


def test_renault_precision_floor(renault):
    assert renault.total.precision >= 0.95, renault.total.false_alarms


def test_renault_recall_floor(renault):
    assert renault.total.recall >= 0.88, renault.total.misses


def test_renault_named_vin_fields_found(renault):
    vin = renault.per_label["pi.vin"]
    named = [miss for miss in vin.misses if miss.endswith((":vin", ".vin"))]
    assert not named


def test_trackintel_precision_floor(trackintel):
    assert trackintel.total.precision >= 0.95, trackintel.total.false_alarms


def test_trackintel_recall_floor(trackintel):
    assert trackintel.total.recall >= 0.68, trackintel.total.misses


def test_trackintel_latitude_tracks_found(trackintel):
    location = trackintel.per_label["spi.location"]
    missed = [miss for miss in location.misses if miss.endswith(("latitude", ":lat"))]
    assert not missed


def test_piicatcher_ssn_in_id_column(piicatcher):
    assert not _missed(piicatcher, "sample-data.csv:id", "spi.id_number")


def test_piicatcher_card_number(piicatcher):
    assert not _missed(piicatcher, "sample-data.csv:cc_number", "spi.bank_card")


def test_piicatcher_floors(piicatcher):
    assert piicatcher.total.precision >= 0.95, piicatcher.total.false_alarms
    assert piicatcher.total.recall >= 0.65, piicatcher.total.misses


def test_presidio_no_false_alarms(presidio):
    assert presidio.total.false_positive == 0, presidio.total.false_alarms


def test_presidio_recall_floor(presidio):
    assert presidio.total.recall >= 0.55, presidio.total.misses


def test_address_shape_share_floor(addresses):
    assert addresses.figures["cn_address_share"] >= 0.53


def test_address_column_labelled(addresses):
    assert addresses.total.recall == 1.0, addresses.total.misses
    assert addresses.total.precision == 1.0, addresses.total.false_alarms


def test_overall_micro_f1_floor(
    datahub, cn_ids, renault, trackintel, piicatcher, presidio, addresses
):
    reports = [datahub, cn_ids, renault, trackintel, piicatcher, presidio, addresses]
    assert bench.overall(reports).f1 >= 0.88


def test_script_skips_missing_folder(tmp_path, capsys):
    assert bench.main(["--datasets", str(tmp_path / "absent")]) == 0
    assert "skipped:" in capsys.readouterr().out
