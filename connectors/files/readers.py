"""Pick the sampler for a file by its content and run it.

``sample_file`` is the entry point: it reads the head of the file, names its
format with ``sniff_format``, decompresses ``.gz``/``.zst``/``.bz2``/``.xz``
content, and hands the bytes to the sampler registered for the format in
``SAMPLERS``. A new format needs a magic number in ``detect.py`` and an entry
here.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Callable

import pyarrow as pa
import zstandard

from connectors.files.avro import sample_avro
from connectors.files.can import describe_asc, describe_blf, describe_dbc, describe_mdf
from connectors.files.columnar import (
    sample_arrow_file,
    sample_arrow_stream,
    sample_feather_v1,
    sample_orc,
    sample_parquet,
)
from connectors.files.content import (
    COMPRESSIONS,
    DECOMPRESSED_LIMIT,
    MIB,
    ByteSource,
    LocalFile,
    ReadContext,
    decompress_head,
    file_extension,
)
from connectors.files.detect import sniff_format
from connectors.files.errors import translate_errors
from connectors.files.firmware import describe_intel_hex, describe_srec
from connectors.files.objects import (
    Describer,
    ObjectFields,
    describe_bmp,
    describe_gif,
    describe_jpeg,
    describe_mp4,
    describe_object,
    describe_png,
    describe_riff,
)
from connectors.files.pointclouds import describe_las, describe_laz, describe_pcd
from connectors.files.robotics import describe_mcap
from connectors.files.rosbag import describe_rosbag1
from connectors.files.sidecars import (
    FIRMWARE_BIN,
    POINT_CLOUD_BIN,
    Sidecar,
    describe_firmware_bin,
    describe_point_cloud_bin,
    find_sidecar,
)
from connectors.files.text import sample_delimited, sample_json
from scanner.errors import DatasetError, UnreadableFormatError, UnsupportedError
from scanner.model import Sample

Sampler = Callable[[ByteSource, ReadContext], Sample]

SAMPLERS: dict[str, Sampler] = {
    "parquet": sample_parquet,
    "orc": sample_orc,
    "arrow": sample_arrow_file,
    "arrow_stream": sample_arrow_stream,
    "feather": sample_feather_v1,
    "avro": sample_avro,
    "csv": sample_delimited,
    "json": lambda source, context: sample_json(source, context, "json"),
    "jsonl": lambda source, context: sample_json(source, context, "jsonl"),
}

# Files described as one object each: format, object kind, describer. The
# describer reads the format's header; ``None`` records the size only.
OBJECT_FORMATS: dict[str, tuple[str, Describer | None]] = {
    "jpeg": ("image", describe_jpeg),
    "png": ("image", describe_png),
    "gif": ("image", describe_gif),
    "bmp": ("image", describe_bmp),
    "tiff": ("image", None),
    "webp": ("image", describe_riff),
    "mp4": ("video", describe_mp4),
    "avi": ("video", describe_riff),
    "matroska": ("video", None),
    "pcd": ("point_cloud", describe_pcd),
    "las": ("point_cloud", describe_las),
    "laz": ("point_cloud", describe_laz),
    "ihex": ("firmware", describe_intel_hex),
    "srec": ("firmware", describe_srec),
    "mcap": ("robotics_log", describe_mcap),
    "rosbag1": ("robotics_log", describe_rosbag1),
    "dbc": ("can_database", describe_dbc),
    "mdf": ("can_log", describe_mdf),
    "blf": ("can_log", describe_blf),
    "asc": ("can_log", describe_asc),
}
# Binary files that only a sidecar next to them makes objects.
SIDECAR_FORMATS: dict[str, str] = {
    POINT_CLOUD_BIN: "point_cloud",
    FIRMWARE_BIN: "firmware",
}
for _format, (_kind, _describer) in OBJECT_FORMATS.items():
    SAMPLERS[_format] = describe_object(_format, _kind, _describer)

# Bytes at the end of a file given to ``sniff_format``, enough for the end of
# an ORC postscript.
_TAIL_BYTES = 16

# Formats whose readers need the whole content, not only its start.
_NEEDS_WHOLE_CONTENT = frozenset(
    {"parquet", "orc", "arrow", "arrow_stream", "feather", "avro"}
)

# Recognised formats that are not tables, with the words used in messages.
NOT_TABULAR: dict[str, str] = {
    "wav": "a WAV audio file",
    "mp3": "an MP3 audio file",
    "flac": "a FLAC audio file",
    "ogg": "an Ogg media file",
    "pdf": "a PDF document",
    "html": "an HTML document",
    "xml": "an XML document",
    "zip": "a ZIP archive (or an Office document)",
    "tar": "a tar archive",
    "7z": "a 7-Zip archive",
    "rar": "a RAR archive",
    "hdf5": "an HDF5 file",
    "elf": "an executable",
}

# The formats an extension promises, to note when the content disagrees.
_EXTENSION_FORMATS: dict[str, frozenset[str]] = {
    ".parquet": frozenset({"parquet"}),
    ".parq": frozenset({"parquet"}),
    ".pq": frozenset({"parquet"}),
    ".orc": frozenset({"orc"}),
    ".arrow": frozenset({"arrow", "arrow_stream"}),
    ".arrows": frozenset({"arrow_stream"}),
    ".feather": frozenset({"arrow", "feather"}),
    ".avro": frozenset({"avro"}),
    ".csv": frozenset({"csv"}),
    ".tsv": frozenset({"csv"}),
    ".json": frozenset({"json", "jsonl"}),
    ".jsonl": frozenset({"jsonl", "json"}),
    ".ndjson": frozenset({"jsonl", "json"}),
    ".gz": frozenset({"gzip"}),
    ".zst": frozenset({"zstd"}),
}


# Bytes read to tell an object file from a table: enough for every magic
# number and the first firmware records.
_KIND_SNIFF_BYTES = 4096


def is_object_file(path: str) -> bool:
    """Tell whether the file at ``path`` is described as one object.

    A compressed file is an object when its decompressed start is one, and a
    binary file when a sidecar describes it. Unreadable files count as
    tables, so that sampling reports their error.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(_KIND_SNIFF_BYTES)
        format_name = sniff_format(head, file_extension(path))
        if format_name in COMPRESSIONS:
            inner = decompress_prefix(path, format_name, _KIND_SNIFF_BYTES)
            format_name = sniff_format(inner, "")
    except (OSError, EOFError, ValueError, zstandard.ZstdError):
        return False
    if _may_have_sidecar(format_name, file_extension(path)):
        return find_sidecar(path) is not None
    return format_name in OBJECT_FORMATS


def _may_have_sidecar(format_name: str, extension: str) -> bool:
    """Tell whether a sidecar could describe content of this format.

    Raw float32 points often look like UTF-16 or UTF-32 text to
    ``sniff_format``, so a ``.bin`` file read as text is checked too.
    """
    return format_name == "binary" or (extension == ".bin" and format_name == "csv")


def sample_file(path: str, context: ReadContext) -> Sample:
    """Sample the file at ``path``; raise a ``DatasetError`` if that fails."""
    with translate_errors(path, "file"):
        source = LocalFile(path, context)
    return sample_source(source, context, path)


def sample_source(source: ByteSource, context: ReadContext, path: str) -> Sample:
    """Sample the content of ``source``, named ``path`` in messages.

    Raises a ``DatasetError`` if that fails.
    """
    with translate_errors(path, "file"):
        tail = source.read_range(max(0, source.size - _TAIL_BYTES), _TAIL_BYTES)
    format_name = sniff_format(source.head, source.extension, tail)
    _note_extension(context, source.extension, format_name)

    if _may_have_sidecar(format_name, source.extension):
        sidecar = find_sidecar(path)
        if sidecar is not None:
            return _sample_with_sidecar(source, context, sidecar, path)
    if format_name not in COMPRESSIONS:
        return _sample_content(source, context, format_name, path)

    with translate_errors(path, format_name):
        inner = decompress_head(source, format_name, context, path)
    inner_tail = inner.read_range(max(0, inner.size - _TAIL_BYTES), _TAIL_BYTES)
    inner_format = sniff_format(
        inner.head, inner.extension, inner_tail if inner.complete else b""
    )
    if inner_format in COMPRESSIONS:
        raise UnsupportedError(
            f"{path} is compressed twice ({inner_format} inside {format_name}); "
            "decompress it once before scanning"
        )
    if not inner.complete:
        context.note(
            f"{format_name}-compressed content sampled from its first "
            f"{DECOMPRESSED_LIMIT // MIB} MiB after decompression"
        )
    if inner_format in OBJECT_FORMATS:
        sample = _sample_compressed_object(inner, context, inner_format, source.size)
    else:
        sample = _sample_content(inner, context, inner_format, path)
    sample.format = f"{inner_format}+{format_name}"
    return sample


def _sample_compressed_object(
    inner: ByteSource, context: ReadContext, inner_format: str, stored_size: int
) -> Sample:
    """Describe a compressed object file as the object it contains.

    ``size_bytes`` is the compressed size on disk. An object larger than the
    decompressed limit gets its format and kind only, because the header
    checks of several formats need the end of the content.
    """
    kind, describer = OBJECT_FORMATS[inner_format]
    if not inner.complete:
        describer = None
        context.note("header not checked: the decompressed object is too large")
    sampler = describe_object(inner_format, kind, describer)
    with translate_errors(context.path, inner_format):
        sample = sampler(inner, context)
    position = sample.table.column_names.index("size_bytes")
    sizes = pa.array([stored_size], pa.int64())
    sample.table = sample.table.set_column(position, "size_bytes", sizes)
    sample.notes.append(
        "described from the decompressed content; size_bytes is the size on disk"
    )
    return sample


def _sample_with_sidecar(
    source: ByteSource, context: ReadContext, sidecar: Sidecar, path: str
) -> Sample:
    """Describe a binary file as the object that its sidecar describes."""
    context.bytes_read += os.path.getsize(sidecar.path)

    def describe(source: ByteSource, context: ReadContext) -> ObjectFields:
        if sidecar.format_name == POINT_CLOUD_BIN:
            return describe_point_cloud_bin(source, context, sidecar)
        return describe_firmware_bin(source, context, sidecar)

    kind = SIDECAR_FORMATS[sidecar.format_name]
    sampler = describe_object(sidecar.format_name, kind, describe)
    with translate_errors(path, sidecar.format_name):
        return sampler(source, context)


def decompress_prefix(path: str, compression: str, limit: int) -> bytes:
    """Return up to ``limit`` decompressed bytes from the start of a file."""
    with open(path, "rb") as raw:
        if compression == "gzip":
            return gzip.GzipFile(fileobj=raw).read(limit)
        if compression == "bzip2":
            return bz2.BZ2File(raw).read(limit)
        if compression == "xz":
            return lzma.LZMAFile(raw).read(limit)
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        return reader.read(limit)


def _sample_content(
    source: ByteSource, context: ReadContext, format_name: str, path: str
) -> Sample:
    sampler = SAMPLERS.get(format_name)
    if sampler is None:
        raise _not_sampled(format_name, path)
    if format_name in _NEEDS_WHOLE_CONTENT and not source.complete:
        raise UnsupportedError(
            f"{path} contains compressed {format_name} data larger than "
            f"{DECOMPRESSED_LIMIT // MIB} MiB, which cannot be sampled from its "
            "start; decompress it before scanning"
        )
    with translate_errors(path, format_name):
        return sampler(source, context)


def _not_sampled(format_name: str, path: str) -> DatasetError:
    if format_name == "empty":
        return UnreadableFormatError(
            f"{path} is an empty file (0 bytes); remove it or exclude it from the scan"
        )
    if format_name == "sqlite" and "://" in path:
        # SQLite opens local files only, so sqlite:///s3://... cannot work.
        return UnsupportedError(
            f"{path} is an SQLite database, which cardex reads from a local "
            "file only; download it, then scan the copy by its URL, "
            "sqlite:///PATH/TO/COPY"
        )
    if format_name == "sqlite":
        return UnsupportedError(
            f"{path} is an SQLite database, which the file connector does not "
            f"read; scan it by its URL, sqlite:///{path}"
        )
    if format_name in NOT_TABULAR:
        return UnsupportedError(
            f"{path} is {NOT_TABULAR[format_name]}, not a table; cardex does not "
            "sample this format yet, so exclude it from the scan"
        )
    return UnreadableFormatError(
        f"{path} is binary data in no format cardex reads (Parquet, ORC, Arrow, "
        "Feather, Avro, JSON, delimited text, or these compressed with gzip, "
        "zstd, bzip2 or xz); exclude it from the scan"
    )


def _note_extension(context: ReadContext, extension: str, format_name: str) -> None:
    expected = _EXTENSION_FORMATS.get(extension)
    if expected is None or format_name in expected or format_name == "empty":
        return
    context.note(
        f"read by content as {format_name} although the extension says {extension}"
    )
