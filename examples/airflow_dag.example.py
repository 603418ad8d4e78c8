"""EXAMPLE Airflow DAG that starts one 'cardex run' a night.

Copy it into your DAGs folder and change the paths. Airflow only starts the
run: the lock, the run record and the outputs are cardex's own, so a manual
'cardex run' and this DAG never overlap (the second one exits 75).

Exit code 75 means another run holds the lock. It is listed in
``skip_on_exit_code`` (BashOperator, Airflow 2.6 or later), so the task is
marked skipped rather than failed.
Exit code 3 (some datasets failed) fails the task; read the summary file.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG

try:  # Airflow 3 moved the operator into the standard provider.
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

CONFIG = "/etc/cardex/cardex.yaml"

with DAG(
    dag_id="cardex_nightly_scan",
    schedule="30 1 * * *",  # keep in step with 'schedule' in cardex.yaml
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["cardex", "data-governance"],
) as dag:
    BashOperator(
        task_id="cardex_run",
        bash_command=f"cardex run --config {CONFIG} --log-format json",
        skip_on_exit_code=[75],
        execution_timeout=dt.timedelta(hours=6),
    )
