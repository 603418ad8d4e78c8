"""Resuming a scan killed with SIGKILL, and telling dead scans from live ones.

The killed scan reads a folder through a test-only connector plugin,
registered by entry point like any third-party plugin, that sleeps before
sampling each file, so the scan can be killed halfway.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from scanner.catalog.local import LocalCatalog
from scanner.catalog.process import ScanProcess, current_process, is_alive
from scanner.errors import UsageError

CARDEX = [sys.executable, "-m", "scanner"]
FILES = 10
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]

PLUGIN = '''
import os
import time

from connectors.files.connector import FileConnector
from scanner.model import DatasetHandle

PREFIX = "slow:"


class SlowConnector(FileConnector):
    """Reads a folder like the file connector, sleeping before each sample."""

    name = "slow"

    def accepts(self, source):
        return source.startswith(PREFIX)

    def discover(self, source, options):
        for item in super().discover(source[len(PREFIX):], options):
            yield SlowHandle(item) if isinstance(item, DatasetHandle) else item


class SlowHandle(DatasetHandle):
    def __init__(self, inner):
        self.inner = inner
        self.uri = inner.uri
        self.name = inner.name
        self.kind = inner.kind

    def fingerprint(self):
        return self.inner.fingerprint()

    def sample(self, rows):
        with open(os.environ["SLOW_LOG"], "a", encoding="utf-8") as log:
            log.write(self.uri + "\\n")
        time.sleep(float(os.environ["SLOW_SECONDS"]))
        return self.inner.sample(rows)
'''


@pytest.fixture
def plugin_path(tmp_path):
    """A folder that, on PYTHONPATH, installs the ``slow`` connector plugin."""
    folder = tmp_path / "plugins"
    (folder / "slowplug").mkdir(parents=True)
    (folder / "slowplug" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    dist_info = folder / "slowplug-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: slowplug\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        "[cardex.connectors]\nslow = slowplug:SlowConnector\n", encoding="utf-8"
    )
    return folder


@pytest.fixture
def lake(tmp_path):
    folder = tmp_path / "lake"
    folder.mkdir()
    for index in range(FILES):
        rows = "".join(
            f"{NAMES[(index + i) % len(NAMES)]},13{index}12345{i:03d},北京\n"
            for i in range(20)
        )
        # A letter, not a number, so each file is a dataset of its own rather
        # than one of a set of part files.
        (folder / f"owners_{chr(ord('a') + index)}.csv").write_text(
            "姓名,手机号码,城市\n" + rows, encoding="utf-8"
        )
    return folder


def _environment(plugin_path, log, seconds):
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(plugin_path), os.environ.get("PYTHONPATH", "")]
        ),
        "SLOW_LOG": str(log),
        "SLOW_SECONDS": str(seconds),
    }


def _scan_command(source, catalog, *extra):
    return [*CARDEX, "scan", source, "-q", "--catalog", catalog, *extra]


def _recorded(catalog_url):
    """Return how many datasets the catalog has recorded, 0 before it exists."""
    engine = sa.create_engine(catalog_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("select count(*) from datasets where last_seen_scan_id = 1")
            ).scalar_one()
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


def _catalog_contents(catalog_url):
    """Return datasets, columns and labels without ids, times and scan ids."""
    engine = sa.create_engine(catalog_url, poolclass=NullPool)
    with engine.connect() as connection:
        datasets = connection.execute(
            sa.text(
                "select uri, name, kind, format, fingerprint, sampled_rows, "
                "total_rows, grade, personal, last_error from datasets order by uri"
            )
        ).all()
        columns = connection.execute(
            sa.text(
                "select d.uri, c.name, c.data_type, c.examined, c.non_null "
                "from columns c join datasets d on d.id = c.dataset_id "
                "order by d.uri, c.name"
            )
        ).all()
        labels = connection.execute(
            sa.text(
                "select d.uri, l.column_name, l.label_id, l.category, l.state, "
                "l.source, l.confidence, l.evidence from labels l "
                "join datasets d on d.id = l.dataset_id "
                "order by d.uri, l.column_name, l.label_id"
            )
        ).all()
    engine.dispose()
    return (
        [tuple(row) for row in datasets],
        [tuple(row) for row in columns],
        [tuple(row) for row in labels],
    )


def _kill_halfway(command, environment, catalog_url, errors):
    """Start a scan and SIGKILL it once it has recorded a few datasets."""
    with open(errors, "w", encoding="utf-8") as stderr:
        scan = subprocess.Popen(command, env=environment, stderr=stderr)
    deadline = time.monotonic() + 90
    try:
        while _recorded(catalog_url) < 3:
            if scan.poll() is not None:
                output = errors.read_text(encoding="utf-8")
                pytest.fail(f"the scan ended before it could be killed:\n{output}")
            assert time.monotonic() < deadline, "the scan recorded nothing in 90 s"
            time.sleep(0.1)
    finally:
        scan.send_signal(signal.SIGKILL)
        scan.wait()
    return _recorded(catalog_url)


@pytest.mark.slow
def test_killed_scan_resumes_like_full_scan(lake, plugin_path, tmp_path):
    source = f"slow:{lake}"
    killed_url = f"sqlite:///{tmp_path / 'killed.db'}"
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    done_before = _kill_halfway(
        _scan_command(source, killed_url, "--concurrency", "2"),
        _environment(plugin_path, first_log, 0.4),
        killed_url,
        tmp_path / "killed.stderr",
    )
    assert done_before < FILES
    report = tmp_path / "resumed.json"
    resumed = subprocess.run(
        _scan_command(source, killed_url, "--resume", "--report", str(report)),
        env=_environment(plugin_path, second_log, 0),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    clean = subprocess.run(
        _scan_command(source, clean_url),
        env=_environment(plugin_path, tmp_path / "clean.log", 0),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )

    assert resumed.returncode == 0, resumed.stderr
    assert clean.returncode == 0, clean.stderr
    assert _catalog_contents(killed_url) == _catalog_contents(clean_url)
    sampled_again = second_log.read_text(encoding="utf-8").split()
    assert len(sampled_again) == FILES - done_before
    assert len(set(sampled_again)) == len(sampled_again)

    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["scan"]["id"] == 1
    assert data["scan"]["resumed_from"] == "running"
    assert data["scan"]["counts"]["skipped"] == done_before
    assert len(data["datasets"]) == FILES
    engine = sa.create_engine(killed_url, poolclass=NullPool)
    with engine.connect() as connection:
        scans = connection.execute(sa.text("select id, status from scans")).all()
    engine.dispose()
    assert [tuple(row) for row in scans] == [(1, "ok")]


def test_finished_scan_not_resumed(store):
    first = store.begin_scan(["/lake"], "v1", "settings")
    store.finish_scan(first, "ok", {})
    assert store.resume_scan(["/lake"], "settings") is None


@pytest.fixture
def store(tmp_path):
    catalog = LocalCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield catalog
    catalog.close()


def _set_owner(store, scan_id, process):
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "update scans set host = :host, pid = :pid, "
                "process_started = :started where id = :id"
            ),
            {
                "host": process.host,
                "pid": process.pid,
                "started": process.started,
                "id": scan_id,
            },
        )


def _dead_process():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return ScanProcess(socket.gethostname(), child.pid, None)


def test_live_scan_is_not_taken_over(store):
    scan_id = store.begin_scan(["/lake"], "v1", "settings")
    with pytest.raises(UsageError, match=f"scan {scan_id} .* still running"):
        store.resume_scan(["/lake"], "settings")


def test_dead_scan_is_claimed(store):
    scan_id = store.begin_scan(["/lake"], "v1", "settings")
    _set_owner(store, scan_id, _dead_process())

    claimed = store.resume_scan(["/lake"], "settings")

    assert claimed is not None
    assert claimed.id == scan_id
    assert claimed.status == "running"
    # This process now owns it, so a second attempt finds a live scan.
    with pytest.raises(UsageError, match="still running"):
        store.resume_scan(["/lake"], "settings")


def test_interrupted_scan_is_claimed(store):
    scan_id = store.begin_scan(["/lake"], "v1", "settings")
    store.finish_scan(scan_id, "interrupted", {})
    claimed = store.resume_scan(["/lake"], "settings")
    assert claimed is not None
    assert claimed.status == "interrupted"


def test_changed_settings_start_new_scan(store):
    scan_id = store.begin_scan(["/lake"], "v1", "old settings")
    _set_owner(store, scan_id, _dead_process())

    assert store.resume_scan(["/lake"], "new settings") is None
    with store.engine.connect() as connection:
        status = connection.execute(
            sa.text("select status from scans where id = :id"), {"id": scan_id}
        ).scalar_one()
    assert status == "interrupted"


def test_other_sources_not_resumed(store):
    scan_id = store.begin_scan(["/lake"], "v1", "settings")
    store.finish_scan(scan_id, "interrupted", {})
    assert store.resume_scan(["/other"], "settings") is None


def test_scan_on_other_host_not_resumed(store):
    scan_id = store.begin_scan(["/lake"], "v1", "settings")
    _set_owner(store, scan_id, ScanProcess("elsewhere.invalid", 1, None))
    assert store.resume_scan(["/lake"], "settings") is None


def test_liveness_checks():
    me = current_process()
    reused = ScanProcess(me.host, me.pid, (me.started or 0) + 1)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while not _is_zombie(zombie.pid) and time.monotonic() < deadline:
        time.sleep(0.02)

    assert is_alive(me) is True
    assert is_alive(_dead_process()) is False
    assert is_alive(ScanProcess("elsewhere.invalid", me.pid, None)) is None
    assert is_alive(reused) is False
    assert is_alive(ScanProcess(me.host, zombie.pid, None)) is False
    zombie.wait()


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


@pytest.mark.postgres
def test_dead_scan_claimed_on_postgres(postgres_url):
    import uuid

    from sqlalchemy.engine import make_url

    name = f"cardex_resume_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f"create database {name}"))
    catalog = LocalCatalog(make_url(postgres_url).set(database=name))
    try:
        scan_id = catalog.begin_scan(["/lake"], "v1", "settings")
        _set_owner(catalog, scan_id, _dead_process())
        claimed = catalog.resume_scan(["/lake"], "settings")
        assert claimed is not None
        assert claimed.id == scan_id
    finally:
        catalog.close()
        with admin.connect() as connection:
            connection.execute(sa.text(f"drop database {name} with (force)"))
        admin.dispose()
