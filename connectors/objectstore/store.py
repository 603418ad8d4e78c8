"""One object store opened for a scan: its filesystem, URLs and errors.

``open_store`` turns a source URL (``s3://``, ``gs://``, ``abfs://``,
``hdfs://``) into an ``ObjectStore``: a pyarrow filesystem plus the path of
the source inside it. This module is the only place in the object-store
connector that turns a pyarrow or SDK error into a ``DatasetError``. Every
message passes through ``ObjectStore.scrub``, which removes the credentials
in use, signed-URL parameters and anything value-like.

After ``UNREACHABLE_AFTER`` reads in a row fail because the store cannot be
reached or does not respond in time, later reads fail at once with reason
``unavailable``. A store that went down or stopped responding mid-scan
therefore costs a few timeouts, not one per dataset.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from connectors.objectstore.settings import (
    S3Settings,
    resolve_s3_settings,
    s3_filesystem,
)
from scanner.errors import (
    AccessDeniedError,
    DatasetError,
    DatasetTimeoutError,
    UnreadableFormatError,
    UsageError,
)
from scanner.masking import redact_text

logger = logging.getLogger(__name__)

SCHEMES = ("s3", "s3a", "gs", "gcs", "abfs", "abfss", "hdfs")
UNREACHABLE_AFTER = 3

# Query parameters and header fragments of signed requests (SigV4 and
# SigV2), which grant access on their own.
_SIGNED_PARTS = re.compile(
    r"(X-Amz-(Signature|Credential|Security-Token)=|Signature=|Credential=|"
    r"AWSAccessKeyId=)[^&\s,\"']*",
    re.IGNORECASE,
)
# Words in SDK messages that mean the store could not be reached, or asked
# the client to slow down after the retries ran out.
_UNREACHABLE = (
    "NETWORK_CONNECTION",
    "curlCode",
    "Couldn't connect",
    "Connection refused",
    "SLOW_DOWN",
    "SlowDown",
    "THROTTLING",
    "SERVICE_UNAVAILABLE",
    "HTTP status 5",
    "INTERNAL_FAILURE",
)
# Of those, the words of a 503 response: throttling or a busy store.
_THROTTLED = ("SLOW_DOWN", "SlowDown", "THROTTLING", "SERVICE_UNAVAILABLE")
# Words of a response that rejects the key pair or the signature made with it.
_BAD_CREDENTIALS = (
    "SIGNATURE_DOES_NOT_MATCH",
    "SignatureDoesNotMatch",
    "INVALID_ACCESS_KEY_ID",
    "InvalidAccessKeyId",
)
_DENIED = ("ACCESS_DENIED", "AccessDenied", "HTTP status 403", "Forbidden")
_MISSING = ("NO_SUCH_KEY", "NO_SUCH_BUCKET", "RESOURCE_NOT_FOUND", "HTTP status 404")
_TIMEOUT = ("REQUEST_TIMEOUT", "timed out", "Timeout was reached")


class StoreUnavailableError(DatasetError):
    """The object store could not be reached or kept throttling requests."""

    reason = "unavailable"


class StoreTimeoutError(DatasetTimeoutError):
    """A request to the object store timed out after its retries."""


@dataclass
class ObjectStore:
    """A pyarrow filesystem and the scheme and root path of one source.

    ``root`` is the path inside the filesystem (``bucket/prefix`` for S3).
    ``settings`` are the S3 settings, for table libraries that open the
    store themselves.
    """

    scheme: str
    filesystem: pafs.FileSystem
    root: str
    settings: S3Settings | None = field(default=None, repr=False)
    unreachable_in_row: int = 0
    # The scan's --timeout in seconds, named in timeout messages.
    timeout: float | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.settings.secrets() if self.settings else ()

    @property
    def storage_options(self) -> dict[str, str]:
        """Return the settings as ``deltalake`` storage options, or ``{}``.

        Empty without explicit credentials, because the Rust object store
        would otherwise try the instance metadata address.
        """
        settings = self.settings
        if settings is None or not (settings.access_key and settings.secret_key):
            return {}
        options = {
            "AWS_REGION": settings.region,
            "AWS_ACCESS_KEY_ID": settings.access_key,
            "AWS_SECRET_ACCESS_KEY": settings.secret_key,
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": str(
                settings.addressing_style == "virtual"
            ).lower(),
        }
        if settings.session_token:
            options["AWS_SESSION_TOKEN"] = settings.session_token
        if settings.endpoint_url:
            options["AWS_ENDPOINT_URL"] = settings.endpoint_url
            options["AWS_ALLOW_HTTP"] = str(
                settings.endpoint_url.startswith("http://")
            ).lower()
        return options

    @property
    def iceberg_properties(self) -> dict[str, str]:
        """Return the settings as ``pyiceberg`` FileIO properties."""
        settings = self.settings
        if settings is None:
            return {}
        properties = {"s3.region": settings.region}
        if settings.endpoint_url:
            properties["s3.endpoint"] = settings.endpoint_url
        if settings.access_key and settings.secret_key:
            properties["s3.access-key-id"] = settings.access_key
            properties["s3.secret-access-key"] = settings.secret_key
        if settings.session_token:
            properties["s3.session-token"] = settings.session_token
        return properties

    def uri(self, path: str) -> str:
        """Return the URL of ``path`` inside this store, as shown to people."""
        return f"{self.scheme}://{path.lstrip('/')}"

    def scrub(self, message: str) -> str:
        """Remove credentials, signed-URL parts and value-like text."""
        for secret in self.secrets:
            message = message.replace(secret, "***")
        message = _SIGNED_PARTS.sub(lambda m: m.group(1) + "***", message)
        return redact_text(message, limit=400)

    def check_reachable(self, uri: str) -> None:
        """Raise at once when the store failed too often in a row to try again."""
        if self.unreachable_in_row >= UNREACHABLE_AFTER:
            raise StoreUnavailableError(
                f"skipped {uri}: the object store failed {self.unreachable_in_row} "
                "reads in a row because it could not be reached or did not "
                "respond in time; check the endpoint and the network, then rerun "
                "the scan"
            )

    def record(self, error: DatasetError | None) -> None:
        """Count reads that failed because the store could not be reached."""
        if isinstance(error, StoreUnavailableError | StoreTimeoutError):
            self.unreachable_in_row += 1
        elif error is None:
            self.unreachable_in_row = 0

    def translate(self, exc: BaseException, uri: str, action: str) -> DatasetError:
        """Return the ``DatasetError`` for ``exc``, raised while ``action`` ``uri``."""
        if isinstance(exc, DatasetError):
            return exc
        detail = self.scrub(f"{type(exc).__name__}: {exc}")
        text = str(exc)
        if isinstance(exc, FileNotFoundError) or _mentions(text, _MISSING):
            return UnreadableFormatError(
                f"{uri} was not found while {action}: it was deleted or renamed "
                "after it was listed; rerun the scan"
            )
        if _mentions(text, _BAD_CREDENTIALS):
            return AccessDeniedError(
                f"the object store rejected the credentials while {action} {uri}; "
                "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the profile "
                f"in use ({detail})"
            )
        if isinstance(exc, PermissionError) or _mentions(text, _DENIED):
            return AccessDeniedError(
                f"access denied while {action} {uri}; grant the scanning "
                "credentials s3:GetObject and s3:ListBucket on it, or exclude it "
                f"({detail})"
            )
        if isinstance(exc, TimeoutError) or _mentions(text, _TIMEOUT):
            return StoreTimeoutError(
                f"the object store timed out while {action} {uri}; check the "
                f"network, or raise --timeout{self._timeout_now()} ({detail})"
            )
        if _mentions(text, _THROTTLED):
            return StoreUnavailableError(
                "the object store kept responding 503 (slow down or unavailable) "
                f"while {action} {uri}, after retries with backoff ({detail}); "
                "rerun the scan later or raise CARDEX_S3_MAX_ATTEMPTS"
            )
        if _mentions(text, _UNREACHABLE):
            return StoreUnavailableError(
                f"the object store could not be reached while {action} {uri}, "
                f"after retries with backoff ({detail}); check the endpoint and "
                "rerun the scan"
            )
        return UnreadableFormatError(
            f"could not read {uri} while {action} ({detail}); check the object "
            "store and rerun"
        )

    def _timeout_now(self) -> str:
        return f" (now {self.timeout:g} s)" if self.timeout is not None else ""


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def split_source(source: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into ``("s3", "bucket/prefix")``.

    Raises ``UsageError`` for an unknown scheme or a URL with credentials in
    it; the message never repeats the credentials.
    """
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UsageError(
            f"{scheme}:// is not an object-store scheme; use one of "
            f"{', '.join(s + '://' for s in SCHEMES)}"
        )
    if parts.password or (parts.username and scheme in ("s3", "s3a", "gs", "gcs")):
        raise UsageError(
            f"the {scheme}:// URL contains credentials; remove them and pass "
            "them through the environment or a profile instead"
        )
    if parts.query or parts.fragment:
        raise UsageError(
            f"the {scheme}:// URL has a query or fragment, which cardex does not "
            "read; pass the endpoint with --endpoint-url and remove the rest"
        )
    path = (parts.netloc + parts.path).rstrip("/")
    return scheme, path


def open_store(source: str, endpoint_url: str | None, timeout: float) -> ObjectStore:
    """Open the filesystem for ``source``; raise ``UsageError`` if it cannot be."""
    scheme, path = split_source(source)
    if scheme in ("s3", "s3a"):
        settings = resolve_s3_settings(endpoint_url)
        filesystem = s3_filesystem(settings, timeout)
        return ObjectStore("s3", filesystem, path, settings, timeout=timeout)
    if endpoint_url:
        raise UsageError(
            f"--endpoint-url applies to s3:// sources only, not {scheme}://"
        )
    filesystem, root = _from_uri(source, scheme)
    return ObjectStore(scheme, filesystem, root, timeout=timeout)


def _from_uri(source: str, scheme: str) -> tuple[pafs.FileSystem, str]:
    """Open a GCS, Azure or HDFS filesystem through pyarrow's URI parser."""
    normalised = source.replace("gcs://", "gs://", 1) if scheme == "gcs" else source
    try:
        filesystem, root = pafs.FileSystem.from_uri(normalised)
    except pa.ArrowNotImplementedError as exc:
        raise UsageError(
            f"this pyarrow {pa.__version__} build cannot read {scheme}:// "
            f"({exc}); install a pyarrow wheel from PyPI, which includes it"
        ) from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise UsageError(_filesystem_failure(scheme, exc)) from None
    return filesystem, root.rstrip("/")


def _filesystem_failure(scheme: str, exc: BaseException) -> str:
    if scheme == "hdfs":
        return (
            "hdfs:// needs a Java runtime and Hadoop's libhdfs: set JAVA_HOME, "
            "HADOOP_HOME and ARROW_LIBHDFS_DIR, and CLASSPATH to the output of "
            "`hadoop classpath --glob` (pyarrow could not load them: "
            f"{redact_text(str(exc).splitlines()[0], limit=200)})"
        )
    return (
        f"could not open the {scheme}:// filesystem: "
        f"{redact_text(str(exc), limit=300)}; check the URL and the credentials "
        "in the environment"
    )
