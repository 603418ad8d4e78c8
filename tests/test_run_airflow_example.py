"""The Airflow example DAG imports where Airflow is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "airflow_dag.example.py"


def test_airflow_example_imports():
    pytest.importorskip("airflow")
    spec = importlib.util.spec_from_file_location("airflow_dag_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.dag.dag_id == "cardex_nightly_scan"
    assert [task.task_id for task in module.dag.tasks] == ["cardex_run"]
