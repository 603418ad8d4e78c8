"""Push targets with a writer's extra missing, and Ctrl-C during a push.

A missing package is simulated by a module on ``PYTHONPATH`` that raises
``ModuleNotFoundError`` when imported, in a child process, so that the test
process keeps its own imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main

REPO = Path(__file__).resolve().parent.parent


def without_datahub(tmp_path: Path) -> dict[str, str]:
    """Return an environment in which ``import datahub`` fails."""
    stub = tmp_path / "stub" / "datahub"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'datahub'\", name='datahub')\n",
        encoding="utf-8",
    )
    path = os.pathsep.join([str(stub.parent), str(REPO)])
    return {**os.environ, "PYTHONPATH": path, "DATAHUB_TELEMETRY_ENABLED": "false"}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_openmetadata_writer_loads_without_datahub(tmp_path: Path) -> None:
    code = """
        from scanner.errors import MissingExtraError
        from scanner.writers.cli import check_targets

        configs = check_targets(["openmetadata+http://127.0.0.1:9?service=s"], None)
        print("openmetadata", configs[0].catalog)
        try:
            check_targets(["datahub-lite:/nonexistent/lite.duckdb"], None)
        except MissingExtraError as exc:
            print("datahub", exc)
    """
    result = run_python(code, without_datahub(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "openmetadata openmetadata" in result.stdout
    assert "datahub Writing labels to DataHub needs" in result.stdout


def test_scan_push_checks_writer_first(tmp_path: Path) -> None:
    source = tmp_path / "data" / "orders.csv"
    source.parent.mkdir()
    source.write_text("order_id,amount\nO1,3.5\n", encoding="utf-8")
    catalog = tmp_path / "catalog.db"
    arguments = [
        "scan",
        str(source.parent),
        "--catalog",
        f"sqlite:///{catalog}",
        "--push",
        f"datahub-lite:{tmp_path / 'lite.duckdb'}",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "scanner", *arguments],
        env=without_datahub(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'cardex[datahub]'" in result.stderr
    assert "reinstall or uninstall" not in result.stderr
    assert not catalog.exists()


def test_push_interrupt_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.writers.push as push_module
    from scanner.catalog.local import LocalCatalog

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    LocalCatalog(catalog).close()
    monkeypatch.setattr(push_module, "push_catalog", interrupt)
    target = f"datahub-file:{tmp_path / 'proposals.json'}"
    result = CliRunner().invoke(main, ["push", target, "--catalog", catalog])

    assert result.exit_code == 130, result.output
    assert "interrupted; run the push again" in result.output
    assert "Aborted" not in result.output


def test_unset_token_env_warns(caplog: pytest.LogCaptureFixture) -> None:
    from scanner.writers.config import parse_target

    name = "CARDEX_TEST_TOKEN_NOT_SET"
    config = parse_target(f"openmetadata+http://127.0.0.1:9?service=s&token_env={name}")
    with caplog.at_level("WARNING", logger="scanner.writers.config"):
        token = config.token()
    assert token is None
    assert f"token_env names {name}, which is not set" in caplog.text
