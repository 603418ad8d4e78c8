"""Concurrent scans: order, bounds, timeouts, errors and Ctrl-C."""

import random
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from scanner.engine import Scanner, ScanOptions
from scanner.pipeline import QUEUED_PER_WORKER, ReadAhead, ordered_map

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]


class _Tracker:
    """Counts how many calls run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.started: list[int] = []

    def work(self, item: int) -> int:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.started.append(item)
        time.sleep(random.uniform(0, 0.01))
        with self.lock:
            self.running -= 1
        return item * 10


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_ordered_map_keeps_input_order(concurrency):
    tracker = _Tracker()
    results = list(ordered_map(tracker.work, range(40), concurrency))
    assert results == [item * 10 for item in range(40)]
    assert tracker.max_running <= concurrency


def test_ordered_map_takes_items_lazily():
    pulled = []

    def items():
        for item in range(100):
            pulled.append(item)
            yield item

    results = ordered_map(lambda item: item, items(), 2)
    assert next(results) == 0
    assert len(pulled) <= 2 * QUEUED_PER_WORKER + 2
    results.close()


def test_ordered_map_raises_worker_error():
    def work(item):
        if item == 3:
            raise ValueError("item 3 failed")
        return item

    with pytest.raises(ValueError, match="item 3 failed"):
        list(ordered_map(work, range(10), 3))


def test_read_ahead_total_known_after_listing():
    release = threading.Event()

    def items():
        yield 1
        release.wait(5)
        yield 2

    listing = ReadAhead(items(), limit=10)
    iterator = iter(listing)
    assert next(iterator) == 1
    assert listing.total is None
    release.set()
    assert list(iterator) == [2]
    assert listing.total == 2


def test_read_ahead_raises_producer_error():
    def items():
        yield 1
        raise OSError("listing failed")

    with pytest.raises(OSError, match="listing failed"):
        list(ReadAhead(items(), limit=10))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """CSV, Parquet and a SQLite database: tabular data, no images."""
    folder = tmp_path_factory.mktemp("lake")
    for index in range(6):
        rows = "".join(
            f"{NAMES[(index + i) % 8]},13{index}1234{i:04d},北京\n" for i in range(40)
        )
        (folder / f"owners_{index}.csv").write_text(
            "姓名,手机号码,城市\n" + rows, encoding="utf-8"
        )
    table = pa.table(
        {
            "vin": [f"LSVAU2180N21{i:05d}" for i in range(40)],
            "email": [f"user{i}@example.com" for i in range(40)],
        }
    )
    pq.write_table(table, folder / "vehicles.parquet")
    engine = sa.create_engine(f"sqlite:///{folder / 'app.db'}", poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("create table users (phone text, note text)"))
        for i in range(40):
            connection.execute(
                sa.text("insert into users values (:phone, 'ok')"),
                {"phone": f"1391234{i:04d}"},
            )
    engine.dispose()
    return folder


def _run(lake, **settings):
    options = ScanOptions(sources=[str(lake)], use_catalog=False, **settings)
    return Scanner(options).run()


def _comparable(outcome):
    return [result.to_dict() for result in outcome.results]


def test_concurrent_scan_equals_sequential(lake):
    sequential = _run(lake, concurrency=1)
    concurrent = _run(lake, concurrency=4)
    assert [r.uri for r in concurrent.results] == [r.uri for r in sequential.results]
    assert _comparable(concurrent) == _comparable(sequential)
    assert any(result.labels or result.columns for result in concurrent.results)


def test_timeout_enforced_in_workers(lake):
    outcome = _run(lake, concurrency=4, timeout=1e-9, sample_size=100000)
    reasons = {error.reason for result in outcome.results for error in result.errors}
    assert reasons == {"timeout"}


def test_fail_stops_concurrent_scan(lake, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.parquet").write_bytes(b"PAR1 truncated")
    for index in range(8):
        (broken / f"z{index}.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    options = ScanOptions(
        sources=[str(broken)], use_catalog=False, on_error="fail", concurrency=4
    )
    outcome = Scanner(options).run()
    assert outcome.status == "failed"
    assert outcome.stopped_early
    assert [result.name for result in outcome.results] == ["a.parquet"]


def test_interrupt_records_interrupted(lake, tmp_path):
    catalog_url = f"sqlite:///{tmp_path / 'catalog.db'}"

    def progress(done, total, uri):
        if done == 2:
            raise KeyboardInterrupt

    options = ScanOptions(sources=[str(lake)], catalog_url=catalog_url, concurrency=4)
    with pytest.raises(KeyboardInterrupt):
        Scanner(options, progress=progress).run()

    engine = sa.create_engine(catalog_url, poolclass=NullPool)
    with engine.connect() as connection:
        status = connection.execute(sa.text("select status from scans")).scalar_one()
        recorded = connection.execute(
            sa.text("select count(*) from datasets")
        ).scalar_one()
    engine.dispose()
    assert status == "interrupted"
    assert recorded == 2


def test_face_counts_same_in_threads():
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from classifiers.faces import count_faces

    pytest.importorskip("cv2")
    sample_data = Path(__file__).resolve().parents[1] / "sample_data"
    images = sorted((sample_data / "objects").rglob("*.jpg"))
    if not images:
        pytest.skip("no sample images")
    paths = [str(path) for path in images] * 6
    expected = [count_faces(path, "image") for path in paths]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda path: count_faces(path, "image"), paths))
    assert found == expected
