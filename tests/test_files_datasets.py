"""Sample third-party test files: each one samples or fails with a clear error.

The files come from the DataProfiler and parquet-testing projects and are
found under ``$CARDEX_DATASETS`` (default ``../shared/datasets`` beside the
repository). The tests skip when that folder is absent.
"""

import os
from pathlib import Path

import pytest

from connectors.base import DiscoveryOptions
from connectors.files import FileConnector
from scanner.errors import DatasetError
from scanner.model import DatasetFailure, DatasetHandle

pytestmark = pytest.mark.datasets

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("CARDEX_DATASETS", ROOT.parent / "shared" / "datasets"))
FOLDERS = ("DataProfiler", "parquet-testing")
SAMPLE_ROWS = 100


def _files() -> list[Path]:
    found = [
        path
        for folder in FOLDERS
        if (DATASETS / folder).is_dir()
        for path in sorted((DATASETS / folder).rglob("*"))
        if path.is_file()
    ]
    return found


FILES = _files()
needs_datasets = pytest.mark.skipif(
    not FILES, reason=f"no test datasets under {DATASETS}; set CARDEX_DATASETS"
)


def _handle(path: Path) -> DatasetHandle:
    (found,) = FileConnector().discover(str(path), DiscoveryOptions())
    assert isinstance(found, DatasetHandle)
    return found


@needs_datasets
@pytest.mark.parametrize(
    "path", FILES, ids=[str(path.relative_to(DATASETS)) for path in FILES]
)
def test_file_samples_or_fails_cleanly(path: Path) -> None:
    handle = _handle(path)
    try:
        sample = handle.sample(SAMPLE_ROWS)
    except DatasetError as error:
        assert str(error).strip()
        assert str(path) in str(error)
        return
    assert 0 < sample.table.num_rows <= SAMPLE_ROWS
    assert sample.format
    assert set(sample.source_types) == set(sample.table.column_names)
    assert sample.bytes_read is not None
    assert sample.bytes_read <= path.stat().st_size


@needs_datasets
@pytest.mark.parametrize("folder", FOLDERS)
def test_folders_list_every_file_once(folder: str) -> None:
    found = list(FileConnector().discover(str(DATASETS / folder), DiscoveryOptions()))
    assert not [item for item in found if isinstance(item, DatasetFailure)]
    expected = sorted(str(path) for path in FILES if folder in path.parts)
    # Part files of one table (names that differ only in digits, such as
    # iris-utf-16.csv and iris-utf-32.csv) are one dataset of several files.
    covered = sorted(
        item.path for handle in found for item in getattr(handle, "files", [])
    )
    covered += [handle.uri for handle in found if not hasattr(handle, "files")]
    assert sorted(covered) == expected


EXPECTED_LEAVES = {
    "nested_structs.rust.parquet": ["roll_num.min", "ul_observation_date.max"],
    "nested_maps.snappy.parquet": ["a{}.key", "a{}.value{}.key", "a{}.value{}.value"],
    "nested_lists.snappy.parquet": ["a[][][]", "b"],
    "list_columns.parquet": ["int64_list", "utf8_list[]"],
    "nullable.impala.parquet": [
        "int_array",
        "int_array_Array[]",
        "int_map{}.key",
        "int_Map_Array[]{}.value",
        "nested_struct.A",
        "nested_struct.b",
        "nested_struct.C.d[][].E",
        "nested_struct.C.d[][].F",
        "nested_struct.g{}.key",
        "nested_struct.g{}.value.H.i",
    ],
    "geography-points.parquet": ["id", "geometry"],
}


@needs_datasets
@pytest.mark.parametrize("name", sorted(EXPECTED_LEAVES))
def test_parquet_testing_nested_leaves(name: str) -> None:
    (path,) = [path for path in FILES if path.name == name]
    columns = _handle(path).sample(SAMPLE_ROWS).table.column_names
    for leaf in EXPECTED_LEAVES[name]:
        assert leaf in columns


@needs_datasets
def test_nested_leaf_values_follow_their_rows() -> None:
    (path,) = [path for path in FILES if path.name == "nullable.impala.parquet"]
    rows = _handle(path).sample(SAMPLE_ROWS).table.to_pylist()
    assert rows[0]["nested_struct.C.d[][].F"] == ["aaa", "bbb", "c"]
    assert rows[0]["int_map{}.key"] == ["k1", "k2"]
    assert rows[0]["int_array"] == [1, 2, 3]


@needs_datasets
def test_misnamed_files_are_read_by_content() -> None:
    by_name = {path.name: path for path in FILES}
    parquet = _handle(
        by_name["snappy_compressed_intentionally_mislabeled_parquet_file.csv"]
    )
    assert parquet.sample(SAMPLE_ROWS).format == "parquet"
    lines = _handle(by_name["honeypot_intentially_mislabeled_file.csv"])
    assert lines.sample(SAMPLE_ROWS).format == "jsonl"


@needs_datasets
@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("daily-activity-sheet-@.csv", ["Time", "Activity", "Supplies", "Notes"]),
        (
            "daily-activity-sheet-@-singlequote.csv",
            ["Time", "Activity", "Supplies", "Notes"],
        ),
        ("daily-activity-sheet-tab.csv", ["Time", "Activity", "Supplies", "Notes"]),
        ("iris-utf-16.csv", ["Id", "SepalLengthCm", "SepalWidthCm"]),
        ("iris-utf-32.csv", ["Id", "SepalLengthCm", "SepalWidthCm"]),
        ("iris-utf-16.json", ["Id", "SepalLengthCm", "SepalWidthCm"]),
        ("sparse-first-and-last-column-header-and-author-description.txt", ["CONTAR"]),
        ("names-col.txt", ["NAMES"]),
        ("log_data_sparse.txt", ["column_1", "column_2", "column_3"]),
    ],
)
def test_dataprofiler_text_layouts(name: str, columns: list[str]) -> None:
    (path,) = [path for path in FILES if path.name == name]
    table = _handle(path).sample(SAMPLE_ROWS).table
    assert table.column_names[: len(columns)] == columns
