"""Exceptions raised by cardex.

Every error cardex raises on purpose derives from ``CardexError``::

    CardexError
    ├── UsageError (ValueError)           bad option, source or configuration
    │   ├── UnknownSourceError            no connector accepts the source
    │   ├── RulePackError                 rule pack file invalid
    │   └── MissingExtraError (ImportError)  optional dependency not installed
    ├── PluginError                       an installed plugin failed to load
    ├── DatasetError                      one dataset could not be read
    │   ├── UnreadableFormatError         content is corrupt, empty or unrecognised
    │   ├── EncodingError (UnicodeError)  text could not be decoded
    │   ├── AccessDeniedError (PermissionError)
    │   ├── DatasetTimeoutError (TimeoutError)
    │   └── UnsupportedError              a feature cardex does not handle yet
    └── CatalogError                      the catalog database failed

A ``DatasetError`` never ends a scan: the engine records it against the dataset
and moves on (unless ``--on-error fail``). Connectors translate the errors of
their drivers into this tree in one place each, and pass messages through
``scanner.masking.redact_text`` so that no sampled value leaks into an error.
"""

from __future__ import annotations


class CardexError(Exception):
    """Base class of every error cardex raises on purpose."""


class UsageError(CardexError, ValueError):
    """The caller passed an invalid option, source or configuration."""


class UnknownSourceError(UsageError):
    """No installed connector accepts the source."""


class RulePackError(UsageError):
    """A rule pack file is missing, malformed or refers to unknown validators."""


class MissingExtraError(CardexError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed; "
            f"install it with: pip install 'cardex[{extra}]'"
        )


class PluginError(CardexError):
    """An installed connector, classifier or catalog plugin failed to load."""


class DatasetError(CardexError):
    """One dataset could not be listed, read or sampled."""

    reason = "error"


class UnreadableFormatError(DatasetError):
    """The content is corrupt, truncated, empty or in no format cardex reads."""

    reason = "unreadable"


class EncodingError(DatasetError, UnicodeError):
    """Text content could not be decoded with any detected encoding."""

    reason = "encoding"


class AccessDeniedError(DatasetError, PermissionError):
    """The dataset exists but cardex may not read it."""

    reason = "access_denied"


class DatasetTimeoutError(DatasetError, TimeoutError):
    """Reading the dataset took longer than the configured timeout."""

    reason = "timeout"


class UnsupportedError(DatasetError):
    """The dataset uses a feature cardex does not handle yet."""

    reason = "unsupported"


class CatalogError(CardexError):
    """The catalog database could not be read or written."""
