"""One scheduled run: every source of the configuration, under the run lock."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scanner.catalog import default_catalog_url
from scanner.engine import Scanner, ScanOptions, ScanOutcome, Skipped, printable
from scanner.errors import CardexError
from scanner.masking import public_url, redact_text
from scanner.model import DatasetFailure, DatasetHandle, DatasetResult
from scanner.runs.changes import LabelSnapshot, diff_labels
from scanner.runs.config import Outputs, RunConfig, Source
from scanner.runs.lock import RunLock
from scanner.runs.result import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    RunResult,
    SourceRun,
    decide_status,
)
from scanner.runs.store import RunStore

logger = logging.getLogger(__name__)

# Engine options that newer engines accept, by the run setting that feeds them.
OPTIONAL_FIELDS = {
    "changed_only": "incremental",
    "resume": "resume",
    "concurrency": "concurrency",
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def default_lock_path(catalog_url: str) -> Path:
    """Return the lock file for a catalog: beside a SQLite file, else per URL.

    For a server catalog the lock lives under ``$XDG_STATE_HOME/cardex``, so
    it only keeps runs on the same host apart. Set ``run.lock`` to a shared
    path when runs may start on several hosts.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(catalog_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        database = Path(parsed.database).expanduser()
        return database.with_name(database.name + ".run.lock")
    digest = hashlib.sha256(public_url(catalog_url).encode()).hexdigest()[:16]
    state_home = Path(
        os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    )
    return state_home / "cardex" / f"run-{digest}.lock"


class TimedScanner(Scanner):
    """A scanner that gives up on a dataset after ``dataset_timeout`` seconds.

    NOTE: Python cannot stop a thread, so the timed-out read goes on in a
    daemon thread until it ends or the process exits. Its result is dropped.
    Database statements are also bounded by ``statement_timeout``.
    """

    def __init__(self, options: ScanOptions, dataset_timeout: float) -> None:
        super().__init__(options)
        self.dataset_timeout = dataset_timeout

    def scan_dataset(
        self, handle: DatasetHandle, *args: Any, **kwargs: Any
    ) -> DatasetResult:
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = Scanner.scan_dataset(self, handle, *args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box["error"] = exc

        worker = threading.Thread(target=work, name="cardex-dataset", daemon=True)
        worker.start()
        worker.join(self.dataset_timeout)
        if worker.is_alive():
            return self._timed_out(handle)
        if "error" in box:
            raise box["error"]
        result: DatasetResult = box["result"]
        return result

    def _timed_out(self, handle: DatasetHandle) -> DatasetResult:
        uri = printable(handle.uri)
        result = DatasetResult(uri=uri, name=printable(handle.name), kind=handle.kind)
        message = (
            f"sampling and classifying took longer than {self.dataset_timeout:g} s; "
            "raise run.dataset_timeout or exclude the dataset"
        )
        result.errors.append(DatasetFailure(uri, "timeout", message))
        return result


class Run:
    """Performs one run of ``config``; ``execute`` returns its result."""

    def __init__(
        self, config: RunConfig, config_path: Path, outputs: Outputs | None = None
    ) -> None:
        self.config = config
        self.outputs = outputs or config.outputs
        self.config_path = config_path.resolve()
        self.catalog_url = config.catalog.url or default_catalog_url()
        self.lock_path = config.run.lock or default_lock_path(self.catalog_url)
        self._secrets: list[str] = []

    def execute(self) -> RunResult:
        """Take the lock, scan every source and record the run.

        Raises ``LockHeldError`` when another run is active, before anything
        is scanned or recorded.
        """
        with RunLock(self.lock_path):
            store = RunStore(self.catalog_url)
            try:
                return self._execute(store)
            finally:
                store.close()

    def _execute(self, store: RunStore) -> RunResult:
        started = time.perf_counter()
        result = RunResult(
            run_id=0,
            config_path=str(self.config_path),
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=_now(),
        )
        digest = hashlib.sha256(self.config_path.read_bytes()).hexdigest()
        result.run_id = store.begin(
            result.started_at, result.host, result.pid, str(self.config_path), digest
        )
        logger.info("run %d started with %s", result.run_id, self.config_path)
        try:
            try:
                self._scan_sources(store, result)
            except KeyboardInterrupt:
                self._finish(store, result, started, "interrupted", EXIT_INTERRUPTED)
                raise
            self._push(result)
            status, code = decide_status(result, self.config.run.on_error)
            self._finish(store, result, started, status, code)
        finally:
            for source_run in result.sources:
                if source_run.spool is not None:
                    source_run.spool.close()
        return result

    def _write_outputs(self, result: RunResult) -> None:
        """Write the metrics, summary and report files the configuration names.

        A file that cannot be written is logged and turns a successful run
        into a partial one.
        """
        from scanner.runs.outputs import write_outputs

        outputs = self.outputs
        if outputs.report is not None and any(
            source_run.spool_failed for source_run in result.sources
        ):
            logger.error(
                "failed to write %s: its dataset entries could not be spooled",
                outputs.report,
            )
            outputs = outputs.model_copy(update={"report": None})
        failed = write_outputs(result, outputs)
        if outputs is not self.outputs:
            failed.append(str(self.outputs.report))
        if failed and result.exit_code == EXIT_OK:
            result.status, result.exit_code = "partial", EXIT_PARTIAL
            result.message = f"failed to write {', '.join(failed)}"

    def _scan_sources(self, store: RunStore, result: RunResult) -> None:
        since = store.previous_start(result.run_id)
        self._warn_missing_options()
        with LabelSnapshot(self.catalog_url) as before:
            for source in self.config.sources:
                # Listed before the scan, so that an interrupted run still
                # reports what this source stored before the interrupt.
                source_run = SourceRun(source.name)
                result.sources.append(source_run)
                self.scan_source(source, source_run)
                if source_run.status == "stopped":
                    break
            scanned: set[str] = set()
            for source_run in result.sources:
                scanned |= source_run.read_uris
            with LabelSnapshot(self.catalog_url) as after:
                diff = diff_labels(before, after, scanned, since)
        result.changes = diff.listed
        result.more_changes = diff.more

    def _warn_missing_options(self) -> None:
        available = {item.name for item in dataclasses.fields(ScanOptions)}
        if self.config.run.incremental and "changed_only" not in available:
            logger.warning(
                "this cardex cannot skip unchanged datasets yet; "
                "every run scans every dataset in full"
            )

    def scan_options(self, source: Source, url: str) -> ScanOptions:
        """Return the engine options for one source."""
        settings = self.config.run
        lists = self.config.lists
        available = {item.name for item in dataclasses.fields(ScanOptions)}
        optional = {
            name: getattr(settings, setting)
            for name, setting in OPTIONAL_FIELDS.items()
            if name in available
        }
        return ScanOptions(
            sources=(url,),
            sample_size=source.sample_size,
            include=source.include,
            exclude=source.exclude,
            timeout=settings.statement_timeout,
            rules_path=_text(self.config.rules),
            on_error=settings.on_error,
            catalog_url=self.catalog_url,
            use_catalog=True,
            geofences_path=_text(lists.geofences),
            terms_path=_text(lists.terms),
            recipients_path=_text(lists.recipients),
            endpoint_url=source.endpoint_url,
            keep_results=False,
            **optional,
        )

    def scan_source(
        self, source: Source, source_run: SourceRun | None = None
    ) -> SourceRun:
        """Scan one source; its errors end up in the returned record.

        ``source_run`` receives the counts as datasets are stored, so it
        contains them even when the scan is interrupted.
        """
        source_run = source_run or SourceRun(source.name)
        started = time.perf_counter()
        logger.info("source %s started", source.name)
        try:
            with self._credentials(source) as url:
                scanner = TimedScanner(
                    self.scan_options(source, url), self.config.run.dataset_timeout
                )
                scanner.on_result = self._result_sink(source_run)
                outcome = scanner.run()
            _count(source_run, outcome)
            source_run.failures = [
                dataclasses.replace(failure, message=self.hide_secrets(failure.message))
                for failure in source_run.failures
            ]
        except CardexError as exc:
            source_run.status = "failed"
            source_run.message = self.scrub(str(exc))
            logger.error("source %s failed: %s", source.name, source_run.message)
        except KeyboardInterrupt:
            source_run.status = "interrupted"
            source_run.duration_seconds = round(time.perf_counter() - started, 3)
            raise
        source_run.duration_seconds = round(time.perf_counter() - started, 3)
        logger.info(
            "source %s finished: %s, %d scanned, %d skipped, %d failed in %.1f s",
            source.name,
            source_run.status,
            source_run.scanned,
            source_run.skipped,
            source_run.failed,
            source_run.duration_seconds,
        )
        return source_run

    def _result_sink(
        self, source_run: SourceRun
    ) -> Callable[[DatasetResult, Skipped | None], None]:
        """Return a callback that notes each result of a source as it is stored.

        The engine keeps no results in a run, so memory does not grow with
        the lake. The callback notes the URIs read in this run. When a
        report is configured, it also spools each dataset's report entry to
        a file.
        """
        if self.outputs.report is not None:
            source_run.spool = tempfile.TemporaryFile(  # noqa: SIM115 - kept open
                mode="w+", encoding="utf-8", prefix="cardex-run-"
            )

        def sink(result: DatasetResult, skipped: Skipped | None) -> None:
            if skipped is not None:
                source_run.skipped += 1
            elif result.errors:
                source_run.failed += 1
            else:
                source_run.scanned += 1
                source_run.read_uris.add(result.uri)
            if source_run.spool is None:
                return
            entry = result.to_dict()
            entry["skipped"] = skipped.to_dict() if skipped else None
            try:
                source_run.spool.write(json.dumps(entry, ensure_ascii=False) + "\n")
            except OSError as exc:
                # The scan goes on without the report.
                logger.error(
                    "failed to spool the report entries of source %s: %s; "
                    "the run report will not be written",
                    source_run.name,
                    exc.strerror or exc,
                )
                source_run.spool.close()
                source_run.spool = None
                source_run.spool_failed = True

        return sink

    @contextlib.contextmanager
    def _credentials(self, source: Source) -> Iterator[str]:
        """Resolve the source's secrets for the duration of its scan.

        Yields the URL with the password inserted; environment variables the
        configuration names are set, then restored on exit.
        """
        url = source.url
        credentials = source.credentials
        if credentials.password is not None:
            from sqlalchemy.engine import make_url

            secret = credentials.password.resolve()
            self._secrets.append(secret)
            url = make_url(url).set(password=secret).render_as_string(False)
        saved = {name: os.environ.get(name) for name in credentials.environment}
        try:
            for name, reference in credentials.environment.items():
                secret = reference.resolve()
                self._secrets.append(secret)
                os.environ[name] = secret
            yield url
        finally:
            for name, previous in saved.items():
                if previous is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = previous

    def hide_secrets(self, text: str) -> str:
        """Replace every secret this run resolved in ``text`` with ``****``."""
        for secret in self._secrets:
            text = text.replace(secret, "****")
        return text

    def scrub(self, text: str) -> str:
        """Remove resolved secrets and anything like a sampled value from text."""
        return redact_text(self.hide_secrets(text))

    def _push(self, result: RunResult) -> None:
        targets = self.config.catalog.push
        if not targets:
            return
        from scanner.runs.push import push_targets

        result.pushed = push_targets(targets, self.catalog_url, self.config.rules)
        for item in result.pushed:
            item["message"] = self.scrub(item.get("message", ""))

    def _finish(
        self,
        store: RunStore,
        result: RunResult,
        started: float,
        status: str,
        code: int,
    ) -> None:
        result.status = status
        result.exit_code = code
        result.finished_at = _now()
        result.duration_seconds = time.perf_counter() - started
        self._write_outputs(result)
        store.finish(result.run_id, result.record())
        logger.info(
            "run %d finished: %s (exit %d) in %.1f s",
            result.run_id,
            status,
            code,
            result.duration_seconds,
        )


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _skipped_uris(outcome: ScanOutcome) -> set[str]:
    """Return the datasets the engine skipped as unchanged or already done.

    Engines without incremental scans have no ``skipped`` attribute.
    """
    return set(getattr(outcome, "skipped", None) or ())


def _count(source_run: SourceRun, outcome: ScanOutcome) -> None:
    skipped = _skipped_uris(outcome)
    failed = [r for r in outcome.failed if r.uri not in skipped]
    source_run.outcome = outcome
    source_run.scan_id = outcome.scan_id
    source_run.skipped = len(skipped)
    source_run.failed = len(failed)
    source_run.scanned = outcome.done - len(failed) - len(skipped)
    source_run.labels_added = outcome.changes.added
    source_run.labels_updated = outcome.changes.updated
    source_run.labels_removed = outcome.changes.removed
    source_run.failures = [error for item in failed for error in item.errors]
    source_run.status = "stopped" if outcome.stopped_early else outcome.status
