"""Publish the labels of the local catalog to a remote catalog.

``push_catalog`` reads every dataset (or the ones named) from the local
catalog, plans each one with ``scanner.writers.plan`` and applies the plan.
A failure on one dataset that may pass (a timeout, a refused connection, a
server error) is retried a bounded number of times. Then it is recorded and
the push goes on. The push records of a dataset change only after its writes
succeeded, so running the push again finishes the work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from classifiers.rulepack import RulePack, load_rule_pack
from scanner.catalog import CatalogStore, open_catalog
from scanner.errors import UsageError
from scanner.writers.base import (
    CatalogWriter,
    Change,
    DatasetPlan,
    LabelKey,
    PushedRecord,
    TransientWriterError,
    WriterError,
    open_writer,
)
from scanner.writers.config import WriterConfig, parse_target
from scanner.writers.evidence import expected_labels
from scanner.writers.plan import plan_dataset
from scanner.writers.state import PushRecords

logger = logging.getLogger(__name__)

T = TypeVar("T")
PushStatus = Literal["ok", "partial", "failed"]
#: Seconds before the first retry; each further retry waits twice as long.
RETRY_BASE_SECONDS = 0.5
NOT_IN_RULE_PACK = (
    "label id not in the rule pack; pass the --rules file that defines it"
)
NO_COLUMN = "column not found in the catalog's schema of the dataset; ingest it again"


@dataclass
class DatasetPush:
    """The outcome of pushing one dataset."""

    uri: str
    remote_id: str = ""
    changes: list[Change] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "remote_id": self.remote_id,
            "changes": [change.to_dict() for change in self.changes],
            "error": self.error,
        }


@dataclass
class PushReport:
    """Everything one push changed, left alone, or failed on."""

    target: str
    dry_run: bool
    vocabulary_created: list[str] = field(default_factory=list)
    datasets: list[DatasetPush] = field(default_factory=list)
    error: str | None = None

    def count(self, action: str) -> int:
        return sum(
            change.action == action
            for dataset in self.datasets
            for change in dataset.changes
        )

    @property
    def failed(self) -> list[DatasetPush]:
        return [dataset for dataset in self.datasets if dataset.error]

    @property
    def status(self) -> PushStatus:
        if self.error or (self.datasets and len(self.failed) == len(self.datasets)):
            return "failed"
        return "partial" if self.failed else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            "status": self.status,
            "error": self.error,
            "vocabulary_created": self.vocabulary_created,
            "counts": {
                action: self.count(action)
                for action in ("add", "update", "remove", "skip")
            }
            | {"failed": len(self.failed)},
            "datasets": [dataset.to_dict() for dataset in self.datasets],
        }


def with_retries(action: str, work: Callable[[], T], retries: int) -> T:
    """Run ``work``, retrying a ``TransientWriterError`` up to ``retries`` times."""
    for attempt in range(retries + 1):
        try:
            return work()
        except TransientWriterError as exc:
            if attempt == retries:
                raise
            delay = RETRY_BASE_SECONDS * 2**attempt
            logger.warning(
                "%s failed (attempt %d of %d), retrying in %.1f s: %s",
                action,
                attempt + 1,
                retries + 1,
                delay,
                exc,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


class Pusher:
    """Pushes datasets of one local catalog through one writer."""

    def __init__(
        self,
        store: CatalogStore,
        writer: CatalogWriter,
        rules: RulePack,
        dry_run: bool = False,
    ) -> None:
        self.store = store
        self.writer = writer
        self.rules = rules
        self.dry_run = dry_run
        self.config: WriterConfig = writer.config
        self.records = PushRecords(store, self.config.target_id)
        #: Records held back until a writer that writes on close has closed.
        self.deferred: list[tuple[str, dict[LabelKey, PushedRecord | None]]] = []

    def run(self, datasets: Sequence[str] | None = None) -> PushReport:
        report = PushReport(self.config.target_id, self.dry_run)
        summaries = self.store.list_datasets()
        # Tags or terms are created for the label ids in use, not the whole
        # rule pack, so the remote vocabulary lists what is in its datasets.
        in_use = {label_id for row in summaries for label_id in row.label_ids}
        vocabulary = [rule for rule in self.rules.labels.values() if rule.id in in_use]
        try:
            report.vocabulary_created = with_retries(
                "creating the vocabulary",
                lambda: self.writer.ensure_vocabulary(vocabulary, self.dry_run),
                self.config.retries,
            )
        except WriterError as exc:
            report.error = str(exc)
            logger.error("push to %s failed: %s", report.target, exc)
            return report
        references = datasets or [row.uri for row in summaries]
        for reference in references:
            report.datasets.append(self.push_dataset(reference))
        return report

    def push_dataset(self, reference: str) -> DatasetPush:
        """Plan and apply one dataset; a failure becomes part of the result."""
        outcome = DatasetPush(uri=reference)
        try:
            view = self.store.show_dataset(reference)
            outcome.uri = view["uri"]
            outcome.remote_id = self.writer.dataset_id(view["uri"])
            plan = with_retries(
                f"pushing {outcome.uri}",
                lambda: self._plan_and_apply(view, outcome.remote_id),
                self.config.retries,
            )
            outcome.changes = plan.changes
        except (WriterError, UsageError) as exc:
            # Writers mask what a server sends back before it reaches a message.
            outcome.error = str(exc)
            logger.error("push of %s failed: %s", outcome.uri, outcome.error)
            return outcome
        logger.info(
            "pushed %s to %s: %d changes, %d left alone",
            outcome.uri,
            outcome.remote_id,
            len(plan.writes),
            len(plan.changes) - len(plan.writes),
        )
        return outcome

    def _plan_and_apply(self, view: dict[str, Any], remote_id: str) -> DatasetPlan:
        uri = view["uri"]
        expected, rejected = expected_labels(view)
        columns = [column["name"] for column in view["columns"]]
        columns += list(view.get("other_labels") or {})
        remote = self.writer.read_labels(uri, columns)
        missing = self.writer.missing_columns(uri, columns)
        skipped: dict[LabelKey, str] = {}
        for key in list(expected):
            if key[1] not in self.rules:
                skipped[key] = NOT_IN_RULE_PACK
            elif key[0] in missing:
                skipped[key] = NO_COLUMN
        for key in skipped:
            del expected[key]

        records = self.records.read(uri)
        plan = plan_dataset(uri, remote_id, expected, rejected, remote, records)
        plan.changes += [Change("skip", *key, why) for key, why in skipped.items()]
        if self.dry_run:
            return plan
        self.writer.apply(plan)
        if self.writer.writes_on_close:
            self.deferred.append((uri, plan.records))
        else:
            self.records.write(uri, plan.records)
        return plan

    def write_deferred_records(self) -> None:
        """Store the records of a writer that writes on close, once it has."""
        for uri, records in self.deferred:
            self.records.write(uri, records)
        self.deferred.clear()


def push_catalog(
    store: CatalogStore,
    config: WriterConfig,
    dry_run: bool = False,
    datasets: Sequence[str] | None = None,
    rules: RulePack | None = None,
) -> PushReport:
    """Publish the labels of ``store`` to the catalog ``config`` names.

    ``datasets`` limits the push to those URIs or names. With ``dry_run`` the
    remote catalog is read but not written, and no push record changes.
    """
    try:
        writer = open_writer(config, dry_run)
    except WriterError as exc:
        logger.error("push to %s failed: %s", config.target_id, exc)
        return PushReport(config.target_id, dry_run, error=str(exc))
    try:
        pusher = Pusher(store, writer, rules or load_rule_pack(), dry_run)
        report = pusher.run(datasets)
    except BaseException:
        writer.close()
        raise
    # A dry run writes nothing, so closing a file target leaves it as it is.
    try:
        writer.close()
    except WriterError as exc:
        logger.error("push to %s failed: %s", config.target_id, exc)
        report.error = str(exc)
        return report
    pusher.write_deferred_records()
    return report


def push_targets(
    targets: Sequence[str],
    catalog_url: str | None = None,
    dry_run: bool = False,
    config_path: str | None = None,
    rules_path: str | None = None,
) -> list[PushReport]:
    """Push the local catalog at ``catalog_url`` to every target in turn.

    This is the entry for callers outside the command line (scheduled runs).
    Raises ``UsageError`` for an invalid target before anything is pushed.
    """
    configs = [parse_target(target, config_path) for target in targets]
    rules = load_rule_pack(rules_path)
    store = open_catalog(catalog_url, create=False)
    try:
        return [
            push_catalog(store, config, dry_run=dry_run, rules=rules)
            for config in configs
        ]
    finally:
        store.close()


__all__ = [
    "DatasetPush",
    "PushReport",
    "Pusher",
    "push_catalog",
    "push_targets",
    "with_retries",
]
