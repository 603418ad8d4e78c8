"""Finding datasets in folders, globs and file URLs with the file connector."""

import logging
import os
import shutil
import signal
import sqlite3
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.base import DiscoveryOptions
from connectors.files import FileConnector
from connectors.files.handles import PartitionedDataset
from scanner.errors import AccessDeniedError, UnreadableFormatError, UsageError
from scanner.model import DatasetFailure, DatasetHandle


def discover(source: str | Path, **options: tuple[str, ...]) -> list:
    return list(FileConnector().discover(str(source), DiscoveryOptions(**options)))


def names(found: list) -> list[str]:
    return [item.name for item in found if isinstance(item, DatasetHandle)]


def touch(path: Path, text: str = "a,b\n1,2\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("sqlite:///tmp/app.db", False),
        ("postgresql://user@localhost/db", False),
        ("s3://bucket/key.csv", False),
        ("file:///tmp/data", True),
        ("FILE:///tmp/data", True),
        ("/no/such/path/*.csv", True),
        ("data/part-[0-9].parquet", True),
        ("/no/such/path.csv", False),
    ],
)
def test_accepts(source: str, expected: bool) -> None:
    assert FileConnector().accepts(source) is expected


def test_accepts_existing_path(tmp_path: Path) -> None:
    assert FileConnector().accepts(str(tmp_path))
    assert FileConnector().name == "files"


def test_folder_yields_each_file(tmp_path: Path) -> None:
    touch(tmp_path / "b.csv")
    touch(tmp_path / "sub" / "a.json", "[]")
    found = discover(tmp_path)
    assert names(found) == ["b.csv", "a.json"]
    handle = found[0]
    assert handle.kind == "file"
    assert handle.uri == str(tmp_path / "b.csv")


def test_bookkeeping_files_are_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "data.csv")
    for name in ("_SUCCESS", ".hidden.csv", "part-0.csv.crc", "x.tmp", "_committed_1"):
        touch(tmp_path / name)
    touch(tmp_path / "_temporary" / "0" / "part.csv")
    touch(tmp_path / ".git" / "config")
    assert names(discover(tmp_path)) == ["data.csv"]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    touch(tmp_path / "keep" / "a.csv")
    touch(tmp_path / "keep" / "b.json", "[]")
    touch(tmp_path / "drop" / "c.csv")
    assert names(discover(tmp_path, include=("*.csv",))) == ["c.csv", "a.csv"]
    assert names(discover(tmp_path, exclude=("drop/*",))) == ["a.csv", "b.json"]
    found = discover(tmp_path, include=("keep/*",), exclude=("*.json",))
    assert names(found) == ["a.csv"]


def test_glob_source(tmp_path: Path) -> None:
    touch(tmp_path / "2026" / "a.csv")
    touch(tmp_path / "2026" / "b.txt")
    touch(tmp_path / "2027" / "c.csv")
    assert names(discover(tmp_path / "*" / "*.csv")) == ["a.csv", "c.csv"]
    assert names(discover(tmp_path / "**" / "*.csv", include=("2027/*",))) == ["c.csv"]


def test_glob_skips_bookkeeping_folders(tmp_path: Path) -> None:
    touch(tmp_path / "out" / "part-0.csv")
    touch(tmp_path / "out" / "_temporary" / "0" / "part-1.csv")
    assert names(discover(tmp_path / "**" / "*.csv")) == ["part-0.csv"]


def test_broken_symlink_fails_on_sample(tmp_path: Path) -> None:
    (tmp_path / "gone.csv").symlink_to(tmp_path / "missing.csv")
    (handle,) = discover(tmp_path)
    with pytest.raises(UnreadableFormatError, match="broken symbolic link"):
        handle.sample(10)


def test_glob_without_matches_yields_nothing(tmp_path: Path) -> None:
    assert discover(tmp_path / "*.parquet") == []


def test_file_url(tmp_path: Path) -> None:
    path = touch(tmp_path / "with space.csv")
    assert names(discover(path.as_uri())) == ["with space.csv"]


def test_file_url_with_remote_host_is_rejected() -> None:
    with pytest.raises(UsageError, match="only local files"):
        discover("file://fileserver/share/data.csv")


def test_missing_path_is_a_failure(tmp_path: Path) -> None:
    found = discover(tmp_path / "missing.csv")
    assert len(found) == 1
    assert isinstance(found[0], DatasetFailure)
    assert found[0].reason == "not_found"
    assert "does not exist" in found[0].message


def test_single_file_source(tmp_path: Path) -> None:
    path = touch(tmp_path / ".hidden_but_named.csv")
    assert names(discover(path)) == [".hidden_but_named.csv"]


def test_symlink_loop_does_not_stop_discovery(tmp_path: Path) -> None:
    touch(tmp_path / "a.csv")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "back").symlink_to(tmp_path)
    found = discover(tmp_path)
    loop = next(item for item in found if item.name == "loop")
    with pytest.raises(UnreadableFormatError, match="loop"):
        loop.sample(10)
    assert names(found).count("a.csv") == 1


def test_sqlite_file_lists_its_tables(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    connection = sqlite3.connect(database)
    connection.execute("create table app_user (phone text)")
    connection.execute("insert into app_user values ('13800138000')")
    connection.commit()
    connection.close()
    touch(tmp_path / "notes.db", "not a database\n")

    found = discover(tmp_path)
    assert names(found) == ["app_user", "notes.db"]
    table = found[0]
    assert table.uri == f"sqlite:///{database}/main/app_user"
    assert table.sample(10).table.column_names == ["phone"]


def _write_partition(root: Path, parts: str, first_id: int, rows: int = 50) -> None:
    folder = root / parts
    folder.mkdir(parents=True)
    table = pa.table({"id": range(first_id, first_id + rows), "vin": ["L"] * rows})
    pq.write_table(table, folder / "part-0.parquet")


def test_hive_folder_is_one_dataset(tmp_path: Path) -> None:
    trips = tmp_path / "lake" / "trips"
    for day in range(10):
        _write_partition(trips, f"dt=2026-01-{day + 1:02d}/region=cn%2Dnorth", day * 50)
    touch(trips / "_SUCCESS")
    touch(tmp_path / "lake" / "owners.csv")

    found = discover(tmp_path / "lake")
    assert names(found) == ["owners.csv", "trips"]
    dataset = found[1]
    assert isinstance(dataset, PartitionedDataset)
    assert dataset.uri == str(trips)
    assert len(dataset.files) == 10

    result = dataset.sample(40)
    assert result.table.column_names == ["id", "vin", "dt", "region"]
    assert result.table.num_rows == 40
    assert set(result.table["region"].to_pylist()) == {"cn-north"}
    days = set(result.table["dt"].to_pylist())
    assert {"2026-01-01", "2026-01-10"} <= days
    assert len(days) == 10
    assert result.source_types["dt"] == "string"
    assert result.total_rows == 500
    assert result.format == "parquet"
    assert result.bytes_read is not None and result.bytes_read > 0


def test_hive_folder_as_source_and_null_partition(tmp_path: Path) -> None:
    _write_partition(tmp_path, "dt=__HIVE_DEFAULT_PARTITION__", 0)
    _write_partition(tmp_path, "dt=2026-01-02", 50)
    found = discover(tmp_path)
    assert names(found) == [tmp_path.name]
    result = found[0].sample(100)
    assert sorted(result.table["dt"].to_pylist(), key=str)[-1] is None


def test_hive_folder_skips_a_bad_file(tmp_path: Path) -> None:
    _write_partition(tmp_path, "dt=1", 0)
    _write_partition(tmp_path, "dt=2", 50)
    (tmp_path / "dt=2" / "part-0.parquet").write_bytes(b"PAR1\x00\x01broken")
    result = discover(tmp_path)[0].sample(100)
    assert result.table.num_rows == 50
    assert any("1 of 2 files could not be read" in note for note in result.notes)


def test_hive_folder_with_different_schemas(tmp_path: Path) -> None:
    _write_partition(tmp_path, "dt=1", 0)
    folder = tmp_path / "dt=2"
    folder.mkdir()
    pq.write_table(
        pa.table({"id": ["x"], "phone": ["13800138000"]}), folder / "p.parquet"
    )
    result = discover(tmp_path)[0].sample(100)
    assert result.table["id"].type == pa.string()
    assert result.table["phone"].to_pylist()[-1] == "13800138000"


def test_fingerprint_of_hive_folder(tmp_path: Path) -> None:
    _write_partition(tmp_path, "dt=1", 0)
    _write_partition(tmp_path, "dt=2", 50)
    fingerprint = discover(tmp_path)[0].fingerprint()
    sizes = [p.stat().st_size for p in tmp_path.rglob("*.parquet")]
    assert fingerprint.size == sum(sizes)
    assert fingerprint.modified is not None


def _as_unprivileged_user(check) -> None:
    """Run ``check`` in a forked child that has dropped root, if we are root.

    Root reads every file whatever its mode, so permission errors can only
    be seen by another user. The child reuses the modules already imported,
    and reports an assertion failure through its exit status.
    """
    if os.geteuid() != 0:
        check()
        return
    pid = os.fork()
    if pid == 0:  # child
        status = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            check()
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            os._exit(status)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            assert os.waitstatus_to_exitcode(status) == 0, "the check failed"
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the unprivileged check timed out")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder that another user may enter (tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="cardex-files-"))
    folder.chmod(0o755)
    yield folder
    for path in sorted(folder.rglob("*"), reverse=True):
        path.chmod(0o755)
    shutil.rmtree(folder)


def test_unreadable_file_raises_access_denied(shared_dir: Path) -> None:
    path = touch(shared_dir / "secret.csv")
    path.chmod(0)
    (handle,) = discover(path)

    def check() -> None:
        with pytest.raises(AccessDeniedError, match="permission denied"):
            handle.sample(10)

    _as_unprivileged_user(check)


def test_unlistable_folder_is_a_failure(shared_dir: Path) -> None:
    touch(shared_dir / "ok.csv").chmod(0o644)
    locked = shared_dir / "locked"
    touch(locked / "hidden.csv")
    locked.chmod(0)

    def check() -> None:
        found = discover(shared_dir)
        failures = [item for item in found if isinstance(item, DatasetFailure)]
        assert names(found) == ["ok.csv"]
        assert failures[0].reason == "access_denied"
        assert "permission denied listing" in failures[0].message

    _as_unprivileged_user(check)


def test_cardexignore_skips_matching_files(tmp_path):
    (tmp_path / "keep.csv").write_text("a,b\n1,2\n")
    (tmp_path / "notes.md").write_text("# notes\n")
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "x.csv").write_text("a\n1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y.csv").write_text("a\n1\n")
    (tmp_path / "sub" / ".cardexignore").write_text("y.csv\n")
    (tmp_path / ".cardexignore").write_text("# docs\n*.md\nscratch/\n")

    found = list(FileConnector().discover(str(tmp_path), DiscoveryOptions()))

    assert [Path(item.uri).name for item in found] == ["keep.csv"]


def _export_tree(root: Path) -> None:
    for relative in (
        "tmp_a.csv",
        "exports/tmp_b.csv",
        "exports/keep.csv",
        "exports/deep/tmp_c.csv",
        "exports/tmp_dir/d.csv",
    ):
        touch(root / relative)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"exclude": ("tmp_*",)}, ["keep.csv"]),
        ({"exclude": ("/tmp_*",)}, ["tmp_c.csv", "keep.csv", "tmp_b.csv", "d.csv"]),
        (
            {"exclude": ("exports/deep",)},
            ["tmp_a.csv", "keep.csv", "tmp_b.csv", "d.csv"],
        ),
        (
            {"exclude": ("tmp_dir/",)},
            ["tmp_a.csv", "tmp_c.csv", "keep.csv", "tmp_b.csv"],
        ),
        (
            {"exclude": ("tmp_*.csv/",)},
            ["tmp_a.csv", "tmp_c.csv", "keep.csv", "tmp_b.csv", "d.csv"],
        ),
        ({"include": ("tmp_*.csv",)}, ["tmp_a.csv", "tmp_c.csv", "tmp_b.csv"]),
        ({"include": ("deep",)}, ["tmp_c.csv"]),
        (
            {"include": ("exports/*.csv",), "exclude": ("deep",)},
            ["keep.csv", "tmp_b.csv", "d.csv"],
        ),
    ],
    ids=[
        "name at any depth",
        "leading slash anchors",
        "folder path",
        "folders only",
        "folders only skips files",
        "include name",
        "include folder",
        "include path exclude folder",
    ],
)
def test_globs_follow_gitignore_rules(
    tmp_path: Path, options: dict, expected: list[str]
) -> None:
    _export_tree(tmp_path)
    assert sorted(names(discover(tmp_path, **options))) == sorted(expected)


def test_cardexignore_name_matches_at_any_depth(tmp_path: Path) -> None:
    _export_tree(tmp_path)
    (tmp_path / ".cardexignore").write_text("tmp_*\n")
    (tmp_path / "exports" / ".cardexignore").write_text("/keep.csv\n")
    assert names(discover(tmp_path)) == []
    (tmp_path / ".cardexignore").write_text("exports/deep/\n")
    assert sorted(names(discover(tmp_path))) == ["d.csv", "tmp_a.csv", "tmp_b.csv"]


@pytest.mark.parametrize(
    "source", ["./sub/a.csv", "sub/a.csv", "sub//a.csv", "sub/./a.csv", "./sub/*.csv"]
)
def test_relative_sources_are_normalised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    touch(tmp_path / "sub" / "a.csv")
    monkeypatch.chdir(tmp_path)
    (found,) = discover(source)
    assert isinstance(found, DatasetHandle)
    assert found.uri == str(tmp_path / "sub" / "a.csv")
    assert found.sample(10).table.num_rows == 1


def test_missing_relative_source_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (failure,) = discover("./gone/a.csv")
    assert failure.uri == str(tmp_path / "gone" / "a.csv")


def test_symlink_loop_message_names_the_link(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (handle,) = discover(tmp_path)
    with pytest.raises(UnreadableFormatError) as caught:
        handle.sample(10)
    assert f"{tmp_path / 'loop'} is a symbolic link loop" in str(caught.value)


def test_unlistable_folder_logs_no_ignore_warning(
    shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    touch(shared_dir / "ok.csv").chmod(0o644)
    locked = shared_dir / "locked"
    touch(locked / ".cardexignore", "*.tmp\n")
    locked.chmod(0)

    def check() -> None:
        with caplog.at_level(logging.WARNING):
            found = discover(shared_dir)
        failures = [item for item in found if isinstance(item, DatasetFailure)]
        assert [failure.uri for failure in failures] == [str(locked)]
        assert "permission denied listing" in caplog.text
        assert ".cardexignore" not in caplog.text

    _as_unprivileged_user(check)
