"""Hand the run's labels to remote catalog writers, when they are installed.

``scanner.writers.push_targets`` publishes the local catalog to remote
catalogs. It is looked up only when a run has push targets; without it each
target is ``skipped``. Each target is pushed on its own, so one invalid or
unreachable target does not stop the others.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from scanner.errors import CardexError
from scanner.masking import redact_text

logger = logging.getLogger(__name__)


def _find_push() -> Any:
    try:
        module = importlib.import_module("scanner.writers")
    except ImportError:
        return None
    function = getattr(module, "push_targets", None)
    return function if callable(function) else None


def push_targets(
    targets: tuple[str, ...], catalog_url: str, rules_path: Path | None
) -> list[dict[str, str]]:
    """Push the catalog's labels to each target; return one status per target.

    Each status is ``{"target", "status", "message"}`` with status ``ok``,
    ``partial``, ``failed`` or ``skipped``. Targets are named ``push.N`` by
    their position, because a target string may carry a token.
    """
    push = _find_push()
    results = []
    for number, target in enumerate(targets):
        name = f"push.{number}"
        if push is None:
            logger.warning(
                "%s skipped: this cardex has no catalog writers "
                "(scanner.writers.push_targets)",
                name,
            )
            results.append(
                {"target": name, "status": "skipped", "message": "writers missing"}
            )
            continue
        results.append(_push_one(push, name, target, catalog_url, rules_path))
    return results


def _push_one(
    push: Any, name: str, target: str, catalog_url: str, rules_path: Path | None
) -> dict[str, str]:
    rules = None if rules_path is None else str(rules_path)
    try:
        reports = push([target], catalog_url=catalog_url, rules_path=rules)
    except CardexError as exc:
        message = redact_text(str(exc))
        logger.error("%s failed: %s", name, message)
        return {"target": name, "status": "failed", "message": message}
    statuses = {str(report.status) for report in reports}
    errors = [str(report.error) for report in reports if report.error]
    status = (
        "ok"
        if statuses <= {"ok"}
        else ("failed" if "failed" in statuses else "partial")
    )
    message = redact_text("; ".join(errors)) if errors else ""
    if status == "ok":
        logger.info("%s pushed", name)
    else:
        logger.error("%s %s: %s", name, status, message or "some datasets failed")
    return {"target": name, "status": status, "message": message}
