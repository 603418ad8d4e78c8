"""Decide what a push changes on one dataset, so that people's decisions win.

The rules, for one label id on one dataset or column:

- In force locally (suggested, or confirmed by a person) and absent remotely:
  added, unless cardex applied it before and someone removed it in the
  remote catalog since. That removal is respected, so the label is not
  added again.
- In force locally and present remotely with cardex's marker: updated when
  its evidence or state changed.
- Present remotely without cardex's marker: a person set it there, so it is
  never changed, removed or claimed.
- Not in force locally (a stale suggestion, or rejected by a person) and
  present remotely with cardex's marker: removed, but only when the push
  records show this local catalog applied it to this target.
"""

from __future__ import annotations

from collections.abc import Mapping

from scanner.writers.base import (
    Change,
    DatasetPlan,
    ExpectedLabel,
    LabelKey,
    PushedRecord,
    RemoteLabel,
)

PERSON_REMOTE = "set by a person in the catalog; left as it is"
REMOVED_REMOTELY = "removed in the catalog after cardex applied it; not added again"
NOT_RECORDED = (
    "carries cardex's marker but this local catalog has no record of pushing "
    "it; left in place"
)


def remote_from_records(
    records: Mapping[LabelKey, PushedRecord],
) -> dict[LabelKey, RemoteLabel]:
    """Assume the remote catalog contains what was pushed, for write-only targets."""
    return {
        key: RemoteLabel(key[0], key[1], owned=True, fingerprint=record.fingerprint)
        for key, record in records.items()
        if record.status == "applied"
    }


def plan_dataset(
    uri: str,
    remote_id: str,
    expected: Mapping[LabelKey, ExpectedLabel],
    rejected: set[LabelKey],
    remote: Mapping[LabelKey, RemoteLabel] | None,
    records: Mapping[LabelKey, PushedRecord],
) -> DatasetPlan:
    """Compare the local labels, the remote ones and the push records.

    ``remote`` is None for a target that cannot be read back; the records
    then stand in for it.
    """
    readable = remote is not None
    if remote is None:
        remote = remote_from_records(records)
    plan = DatasetPlan(uri=uri, remote_id=remote_id)
    for key in sorted(set(expected) | set(remote) | set(records)):
        if key in expected:
            _plan_expected(
                plan, expected[key], remote.get(key), records.get(key), readable
            )
        else:
            _plan_not_expected(
                plan, key, key in rejected, remote.get(key), records.get(key)
            )
    return plan


def _plan_expected(
    plan: DatasetPlan,
    label: ExpectedLabel,
    remote: RemoteLabel | None,
    record: PushedRecord | None,
    readable: bool,
) -> None:
    key = label.key
    applied = PushedRecord("applied", label.fingerprint, plan.remote_id)
    if remote is not None and not remote.owned:
        plan.changes.append(Change("skip", *key, PERSON_REMOTE, label))
        plan.records[key] = None
    elif remote is not None:
        plan.owned_after[key] = label
        plan.records[key] = applied
        if remote.fingerprint != label.fingerprint:
            plan.changes.append(Change("update", *key, _why_update(label), label))
    elif readable and record is not None:
        plan.changes.append(Change("skip", *key, REMOVED_REMOTELY, label))
        plan.records[key] = PushedRecord(
            "removed_remotely", record.fingerprint, plan.remote_id
        )
    else:
        plan.owned_after[key] = label
        plan.records[key] = applied
        plan.changes.append(Change("add", *key, _why_add(label), label))


def _why_add(label: ExpectedLabel) -> str:
    if label.state == "confirmed":
        return f"confirmed by {label.decided_by}"
    return "suggested by the scanner"


def _why_update(label: ExpectedLabel) -> str:
    if label.state == "confirmed":
        return f"confirmed by {label.decided_by}, or its evidence changed"
    return "evidence changed"


def _plan_not_expected(
    plan: DatasetPlan,
    key: LabelKey,
    rejected: bool,
    remote: RemoteLabel | None,
    record: PushedRecord | None,
) -> None:
    if remote is None:
        plan.records[key] = None
        return
    if not remote.owned:
        if rejected:
            reason = f"rejected in cardex but {PERSON_REMOTE}"
            plan.changes.append(Change("skip", *key, reason))
        plan.records[key] = None
        return
    if record is None or record.status != "applied":
        plan.changes.append(Change("skip", *key, NOT_RECORDED))
        return
    reason = "rejected in cardex" if rejected else "no longer found by the scanner"
    plan.changes.append(Change("remove", *key, reason))
    plan.records[key] = None
