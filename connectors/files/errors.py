"""Translate the errors of file libraries into the ``scanner.errors`` tree.

This module is the only place in the file connector that turns a foreign
exception (pyarrow, fastavro, zstandard, the json, csv, gzip, bz2 and lzma
modules, the operating system) into a ``DatasetError``. Library messages may
quote the row that failed to parse, so every one passes through
``redact_text`` before it reaches the new error. The connector's own
``ColumnLimitError`` is translated here too, into ``UnsupportedError``.
"""

from __future__ import annotations

import errno
import json
import logging
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import zstandard

from connectors.files.flatten import MAX_COLUMNS, ColumnLimitError
from scanner.errors import (
    AccessDeniedError,
    CardexError,
    DatasetError,
    EncodingError,
    UnreadableFormatError,
    UnsupportedError,
)
from scanner.masking import redact_text

logger = logging.getLogger(__name__)

# Reason stored on a ``DatasetFailure`` for a source path that does not exist.
NOT_FOUND = "not_found"

_CORRUPT = (
    "could not read {path} as {format} ({detail}); the file may be truncated or "
    "corrupt, so re-export it or exclude it from the scan"
)

_ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]

# Foreign error types and the error each becomes; the first match wins.
# Templates take {path}, {format}, {detail}, the masked library message, and
# {depth}, about the deepest nesting that recursive parsers reach.
_TRANSLATIONS: tuple[tuple[_ErrorTypes, type[DatasetError], str], ...] = (
    (
        PermissionError,
        AccessDeniedError,
        "permission denied reading {path}; grant the scanning user read access "
        "or exclude the file from the scan",
    ),
    (
        FileNotFoundError,
        UnreadableFormatError,
        "{path} does not exist: it was removed during the scan, or it is a "
        "broken symbolic link; rerun the scan or fix the link",
    ),
    (
        (IsADirectoryError, NotADirectoryError),
        UnreadableFormatError,
        "{path} changed between a file and a folder during the scan; rerun it",
    ),
    (
        UnicodeError,
        EncodingError,
        "could not decode the text of {path} ({detail}); convert it to UTF-8",
    ),
    (
        RecursionError,
        UnsupportedError,
        "{path} is nested deeper than about {depth} levels, Python's recursion "
        "limit, so cardex cannot parse it as {format}; flatten the records or "
        "exclude the file from the scan",
    ),
    (
        MemoryError,
        UnsupportedError,
        "{path} needs more memory to sample as {format} than is available; "
        "lower the sample size or exclude the file",
    ),
    (
        pa.ArrowNotImplementedError,
        UnsupportedError,
        "{path} uses a {format} feature that pyarrow " + pa.__version__ + " does "
        "not read ({detail}); convert the file or exclude it",
    ),
    (pa.ArrowException, UnreadableFormatError, _CORRUPT),
    # Plain operating-system errors (EIO, ENOSPC...) carry no file content.
    (
        OSError,
        UnreadableFormatError,
        "could not read {path} ({detail}); check the storage and rerun",
    ),
)


@contextmanager
def translate_errors(path: str, format_name: str) -> Iterator[None]:
    """Re-raise any error from the block as a ``DatasetError`` about ``path``.

    ``CardexError`` subclasses pass through unchanged. Errors of unknown type
    become ``UnreadableFormatError`` too, because a corrupt file can make a
    parser fail in any way, and one bad file must not end a scan.
    """
    try:
        yield
    except CardexError:
        raise
    except Exception as exc:
        raise to_dataset_error(exc, path, format_name) from exc


def to_dataset_error(exc: BaseException, path: str, format_name: str) -> DatasetError:
    """Return the ``DatasetError`` that describes ``exc`` raised on ``path``."""
    if isinstance(exc, DatasetError):
        return exc
    if isinstance(exc, ColumnLimitError):
        return UnsupportedError(
            f"{path} has {exc.found}; cardex samples at most {MAX_COLUMNS:,} "
            "columns per dataset, so split it into narrower tables or exclude it "
            "from the scan"
        )
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return UnreadableFormatError(
            f"{path} is a symbolic link loop: resolving the link leads back to "
            "itself; fix or remove the link, or exclude it from the scan"
        )
    fields = {
        "path": path,
        "format": format_name,
        "detail": _detail(exc),
        "depth": f"{sys.getrecursionlimit():,}",
    }
    for foreign, translated, template in _TRANSLATIONS:
        if isinstance(exc, foreign):
            return translated(template.format(**fields))

    if not _is_expected(exc):
        logger.warning(
            "unexpected %s while reading %s as %s",
            type(exc).__name__,
            path,
            format_name,
        )
    return UnreadableFormatError(_CORRUPT.format(**fields))


def _is_expected(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a type that parsers raise on corrupt input."""
    expected = (
        pa.ArrowException,
        ValueError,
        EOFError,
        zlib.error,
        zstandard.ZstdError,
        json.JSONDecodeError,
    )
    return isinstance(exc, expected)


def _detail(exc: BaseException) -> str:
    """Return ``exc`` as ``Type: message`` with anything value-like masked."""
    message = str(exc).strip() or "no message"
    name = type(exc).__name__
    if name.lower() == "error":
        name = f"{type(exc).__module__}.{name}"  # zlib.error, csv.Error...
    return f"{name}: {redact_text(message, limit=300)}"
