"""Ending a command with an error message and an exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` as a cardex error on standard error and exit with ``code``."""
    click.echo(f"cardex: error: {message}", err=True)
    sys.exit(code)
