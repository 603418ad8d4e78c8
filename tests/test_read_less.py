"""Sampling reads less of each file when a dataset spreads over many files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.files.content import HEAD_BYTES, ReadContext
from connectors.files.handles import FileDataset, PartitionedDataset, PartitionFile
from connectors.files.readers import sample_file
from connectors.files.spread import (
    MIN_SPREAD_GROUPS,
    choose_groups,
    is_part_of_many,
    sampling_part_of_many,
)

GROUP_ROWS = 20_000
GROUPS = 8
# pyarrow reads the last 64 KiB of a Parquet file first, for the footer.
FOOTER_READ_BYTES = 64 * 1024
# Format checks read a few bytes at the end of the file: 16 plus 4.
ENDING_BYTES = 20


def _trip_table(first_id: int, rows: int) -> pa.Table:
    ids = np.arange(first_id, first_id + rows)
    return pa.table(
        {
            "trip_id": ids,
            "vin": pa.array(ids + 10**16).cast(pa.string()),
            "speed_kmh": (ids % 130).astype(np.float64),
        }
    )


def _write_partitions(root: Path, days: int) -> list[PartitionFile]:
    """Write one Parquet file of ``GROUPS`` row groups in each of ``days`` days."""
    files: list[PartitionFile] = []
    rows = GROUP_ROWS * GROUPS
    for day in range(days):
        value = f"2026-01-{day + 1:02d}"
        folder = root / f"dt={value}"
        folder.mkdir(parents=True)
        path = folder / "part-0.parquet"
        pq.write_table(_trip_table(day * rows, rows), path, row_group_size=GROUP_ROWS)
        files.append(PartitionFile(str(path), (("dt", value),)))
    return files


def _size(files: list[PartitionFile]) -> int:
    return sum(Path(item.path).stat().st_size for item in files)


def _group_bytes(group: pq.RowGroupMetaData) -> int:
    return sum(group.column(i).total_compressed_size for i in range(group.num_columns))


def _largest_group_bytes(path: str) -> int:
    metadata = pq.ParquetFile(path).metadata
    return max(_group_bytes(metadata.row_group(i)) for i in range(GROUPS))


def test_choose_groups_default_minimum() -> None:
    chosen = choose_groups([GROUP_ROWS] * GROUPS, 63)
    assert len(chosen) == MIN_SPREAD_GROUPS
    assert chosen[0] == 0
    assert chosen[-1] == GROUPS - 1


def test_choose_groups_part_of_many() -> None:
    with sampling_part_of_many():
        assert is_part_of_many()
        assert choose_groups([GROUP_ROWS] * GROUPS, 63) == [GROUPS // 2]
        # More rows than one group contains still take as many groups as needed.
        assert len(choose_groups([GROUP_ROWS] * GROUPS, 2 * GROUP_ROWS + 1)) == 3
    assert not is_part_of_many()


def test_part_of_many_resets_after_error() -> None:
    with pytest.raises(RuntimeError), sampling_part_of_many():
        raise RuntimeError("sampling failed")
    assert not is_part_of_many()


def test_partitioned_sample_reads_one_group_per_file(tmp_path: Path) -> None:
    files = _write_partitions(tmp_path / "trips", days=8)
    dataset = PartitionedDataset(str(tmp_path / "trips"), files, timeout=60)

    sample = dataset.sample(1000)

    assert sample.table.num_rows == 1000
    # Every partition gives rows, so the spread comes from the files.
    assert sorted(set(sample.table["dt"].to_pylist())) == [
        f"2026-01-{day + 1:02d}" for day in range(8)
    ]
    assert sample.bytes_read is not None
    # Per file: the head, the footer and one row group; four groups before.
    group = _largest_group_bytes(files[0].path)
    per_file = HEAD_BYTES + FOOTER_READ_BYTES + ENDING_BYTES + group
    assert sample.bytes_read <= 8 * per_file
    assert "rows taken from 1 of 8 row groups, evenly spaced" in sample.notes


def test_few_files_keep_group_spread(tmp_path: Path) -> None:
    files = _write_partitions(tmp_path / "trips", days=2)
    dataset = PartitionedDataset(str(tmp_path / "trips"), files, timeout=60)

    sample = dataset.sample(1000)

    assert sample.table.num_rows == 1000
    assert "rows taken from 4 of 8 row groups, evenly spaced" in sample.notes


def test_single_file_keeps_group_spread(tmp_path: Path) -> None:
    path = tmp_path / "trips.parquet"
    rows = GROUP_ROWS * GROUPS
    pq.write_table(_trip_table(0, rows), path, row_group_size=GROUP_ROWS)

    sample = FileDataset(str(path), timeout=60).sample(1000)

    assert sample.table.num_rows == 1000
    ids = sample.table["trip_id"].to_pylist()
    assert min(ids) < GROUP_ROWS
    assert max(ids) >= rows - GROUP_ROWS
    assert "rows taken from 4 of 8 row groups, evenly spaced" in sample.notes
    assert sample.bytes_read is not None
    assert sample.bytes_read < path.stat().st_size * 0.75


def test_large_row_group_read_in_part(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = 500_000
    files: list[PartitionFile] = []
    for index in range(4):
        path = tmp_path / f"part-{index}.parquet"
        table = pa.table({"a": rng.integers(0, 2**62, rows), "b": rng.random(rows)})
        # One row group of 4 MB per column, in pages of 64 KiB.
        pq.write_table(
            table,
            path,
            row_group_size=rows,
            use_dictionary=False,
            compression="none",
            data_page_size=64 * 1024,
        )
        files.append(PartitionFile(str(path), ()))
    dataset = PartitionedDataset(str(tmp_path / "part-#.parquet"), files, 60)

    sample = dataset.sample(1000)

    assert sample.table.num_rows == 1000
    assert sample.bytes_read is not None
    assert sample.bytes_read < _size(files) * 0.35
    assert "rows taken from the start of each chosen row group" in sample.notes


def test_parquet_bytes_counted_from_reads(tmp_path: Path) -> None:
    path = tmp_path / "trips.parquet"
    rows = GROUP_ROWS * GROUPS
    pq.write_table(_trip_table(0, rows), path, row_group_size=GROUP_ROWS)
    context = ReadContext.start(str(path), 1000, 60)

    sample_file(str(path), context)

    metadata = pq.ParquetFile(path).metadata
    chosen = sum(_group_bytes(metadata.row_group(i)) for i in (0, 2, 5, 7))
    assert context.bytes_read >= chosen
    limit = chosen + HEAD_BYTES + FOOTER_READ_BYTES + ENDING_BYTES
    assert context.bytes_read <= limit
