"""List the datasets under a local path or glob.

Every file is its own dataset, except under a Hive-partitioned folder: a
folder whose subfolders are named ``key=value`` is one dataset, rooted at
that folder, holding every data file inside its partition subfolders.
Part files of one table side by side (table files whose names differ only in
digits, such as ``part-00000.parquet`` and ``part-00001.parquet``) are one
dataset too, named by their pattern (``part-#.parquet``), as in a bucket.
A ROS 2 bag folder (a ``metadata.yaml`` of rosbag2 and its storage files)
is one dataset too, and so is a Delta table (a folder with ``_delta_log/``)
or an Iceberg table (a folder with ``metadata/*.metadata.json``).

Files that only engines use (hidden files, ``_SUCCESS``, ``*.crc``,
``*.tmp``, ``_temporary/``...) are skipped without a note. A folder that
cannot be listed yields a ``DatasetFailure`` and the walk goes on.

The include and exclude globs and the lines of a ``.cardexignore`` file
follow the rules of ``.gitignore``. A glob without a ``/`` matches a file or
folder name at any depth. A glob with one matches the path relative to the
source, or to the folder that contains the ``.cardexignore``. A glob that
matches a folder covers everything inside it, and a trailing ``/`` matches
folders only. A ``.cardexignore`` contains one glob per line, ``#`` starts a
comment, and its matches are skipped like ``--exclude``.

An SQLite database file (``.db``, ``.sqlite``...) found in a folder is listed
by the installed connector that accepts its ``sqlite:///`` URL, so that each
of its tables is a dataset.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote

from connectors.base import Connector, DiscoveryOptions
from connectors.files.content import file_extension
from connectors.files.errors import NOT_FOUND, to_dataset_error
from connectors.files.handles import FileDataset, PartitionedDataset, PartitionFile
from connectors.files.rosbag import RosBag2Dataset, is_rosbag2_folder
from scanner.errors import CardexError
from scanner.model import DatasetFailure, DatasetHandle

logger = logging.getLogger(__name__)

GLOB_CHARACTERS = frozenset("*?[")
IGNORE_FILE = ".cardexignore"

_IGNORED_NAMES = frozenset({"_SUCCESS", "_temporary", "_metadata", "_common_metadata"})
_IGNORED_PATTERNS = ("*.crc", "*.tmp", "_committed_*", "_started_*", "_temporary*")
_PARTITION_DIR = re.compile(r"[^=]+=[^=]*")
# Hive writes this value for a null partition key.
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_SQLITE_EXTENSIONS = frozenset({".db", ".sqlite", ".sqlite3", ".db3"})
# The first 16 bytes of every SQLite 3 database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"

# Runs of digits, and the hex UUIDs writers put in part-file names.
_PART_VARYING = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+", re.I
)
# Extensions of the table formats whose part files are grouped, once a
# compression suffix is removed. "" is a part file without an extension, as
# Hadoop and Hive write them. Images, point clouds and logs stay one dataset
# each because they are described as objects, not sampled as tables.
_PART_EXTENSIONS = frozenset(
    {
        "",
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".ndjson",
        ".parquet",
        ".parq",
        ".pq",
        ".orc",
        ".avro",
        ".arrow",
        ".feather",
    }
)
_COMPRESSION_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd", ".bz2", ".xz")

Found = DatasetHandle | DatasetFailure
Item = TypeVar("Item")


@dataclass(frozen=True)
class _Walk:
    """Settings shared by one discovery run."""

    base: str
    options: DiscoveryOptions
    # Real paths of the folders walked so far, so a symlink loop ends.
    visited: set[str] = field(default_factory=set)
    # Globs from .cardexignore files, keyed by the folder that contains them.
    ignore_files: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def ignored_by_file(self, path: str, is_dir: bool) -> bool:
        """Tell whether a ``.cardexignore`` of an enclosing folder matches ``path``."""
        for folder, patterns in self.ignore_files.items():
            if not path.startswith(folder + os.sep):
                continue
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            if any(glob_matches(relative, pattern, is_dir) for pattern in patterns):
                return True
        return False

    def selected(self, path: str, is_dir: bool = False) -> bool:
        """Apply the ignore files and the include and exclude globs to ``path``."""
        if self.ignored_by_file(path, is_dir):
            return False
        include = self.options.include
        relative = self.relative(path)
        if include and not any(glob_matches(relative, p, is_dir) for p in include):
            return False
        return not self.excluded(path, is_dir)

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        """Tell whether an exclude glob matches ``path``."""
        relative = self.relative(path)
        return any(glob_matches(relative, p, is_dir) for p in self.options.exclude)

    def relative(self, path: str) -> str:
        relative = os.path.relpath(path, self.base)
        if relative == ".":
            relative = os.path.basename(path)
        return relative.replace(os.sep, "/")


def glob_matches(relative: str, pattern: str, is_dir: bool = False) -> bool:
    """Tell whether a ``.gitignore``-style glob matches a relative path.

    ``relative`` uses ``/`` between parts. A pattern without a ``/`` (other
    than a trailing one) is tried on every part, so it matches a name at any
    depth. A pattern with one, such as ``exports/*.csv`` or ``/tmp_a.csv``, is
    tried on the path up to each part, so a match on a folder covers what it
    contains. A trailing ``/`` limits the pattern to folders: the last part of
    ``relative`` is a file unless ``is_dir`` is true.
    """
    folders_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    anchored = "/" in pattern
    pattern = pattern.removeprefix("./").lstrip("/")
    parts = relative.split("/")
    candidates = len(parts) - 1 if folders_only and not is_dir else len(parts)
    if not anchored:
        return any(fnmatch.fnmatch(part, pattern) for part in parts[:candidates])
    return any(
        fnmatch.fnmatch("/".join(parts[: end + 1]), pattern)
        for end in range(candidates)
    )


def discover_path(path: str, options: DiscoveryOptions) -> Iterator[Found]:
    """Yield the datasets under ``path``, which may contain glob characters.

    ``path`` is normalised first, so ``./data/a.csv``, ``data//a.csv`` and
    ``data/a.csv`` name the same dataset. A glob stays relative, because the
    current folder's name may contain glob characters itself.
    """
    path = os.path.normpath(path)
    if has_glob(path) and not os.path.exists(path):
        yield from _discover_glob(path, options)
        return
    path = os.path.abspath(path)
    if not os.path.exists(path):
        yield DatasetFailure(
            uri=path,
            reason=NOT_FOUND,
            message=f"{path} does not exist; check the path",
        )
        return
    base = path if os.path.isdir(path) else os.path.dirname(path)
    yield from _discover_entry(path, _Walk(base, options), True)


def has_glob(path: str) -> bool:
    return any(character in GLOB_CHARACTERS for character in path)


def part_pattern(name: str) -> str:
    """Return ``name`` with its digit runs and UUIDs replaced by ``#``."""
    return _PART_VARYING.sub("#", name)


def group_part_files(
    items: Sequence[Item], name_of: Callable[[Item], str]
) -> list[list[Item]]:
    """Group the part files of one table among files of one folder.

    Table files whose names give the same ``part_pattern``, and contain at
    least one digit, form one group. Every other file is a group of its own.
    Groups come in the order of their first member. The local and the
    object-store discovery both group with this function, so one lake gives
    the same datasets in a folder and in a bucket.
    """
    groups: list[list[Item]] = []
    by_pattern: dict[str, list[Item]] = {}
    for item in items:
        name = name_of(item)
        pattern = part_pattern(name)
        if pattern == name or not _is_table_name(name):
            groups.append([item])
        elif pattern in by_pattern:
            by_pattern[pattern].append(item)
        else:
            by_pattern[pattern] = [item]
            groups.append(by_pattern[pattern])
    return groups


def _is_table_name(name: str) -> bool:
    lowered = name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if lowered.endswith(suffix):
            lowered = lowered.removesuffix(suffix)
            break
    return file_extension(lowered) in _PART_EXTENSIONS


def _discover_glob(pattern: str, options: DiscoveryOptions) -> Iterator[Found]:
    base = _glob_base(pattern)
    walk = _Walk(base, options)
    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        logger.warning("the glob %s matches no files", pattern)
    for match in matches:
        parts = walk.relative(match).split("/")
        if any(is_ignored(part) for part in parts):
            continue
        yield from _discover_entry(os.path.abspath(match), walk, True)


def _glob_base(pattern: str) -> str:
    """Return the folder part of ``pattern`` before its first glob character."""
    parts = pattern.split(os.sep)
    fixed: list[str] = []
    for part in parts:
        if has_glob(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or "."


def _discover_entry(path: str, walk: _Walk, named: bool) -> Iterator[Found]:
    """Yield datasets for a file or folder; ``named`` if the caller named it."""
    is_dir = os.path.isdir(path)
    if not named and (
        is_ignored(os.path.basename(path)) or walk.ignored_by_file(path, is_dir)
    ):
        return
    if not is_dir:
        if not walk.selected(path):
            return
        if _is_sqlite_database(path):
            yield from _discover_database(path, walk)
        else:
            yield FileDataset(path, walk.options.timeout)
        return
    if not named and walk.excluded(path, is_dir=True):
        return
    yield from _discover_folder(path, walk)


def _is_sqlite_database(path: str) -> bool:
    """Tell whether ``path`` has an SQLite extension and the SQLite header."""
    if os.path.splitext(path)[1].lower() not in _SQLITE_EXTENSIONS:
        return False
    try:
        with open(path, "rb") as handle:
            return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False  # sampling the file will report the error


def _discover_database(path: str, walk: _Walk) -> Iterator[Found]:
    """Yield the tables of an SQLite file through a database connector."""
    url = f"sqlite:///{path}"
    connector = _database_connector(url)
    if connector is None:
        yield FileDataset(path, walk.options.timeout)
        return
    # The include and exclude globs selected the file by its path. They are
    # not applied again to the table names.
    options = DiscoveryOptions(timeout=walk.options.timeout)
    try:
        yield from connector.discover(url, options)
    except CardexError as exc:
        reason = getattr(exc, "reason", "error")
        logger.warning("could not list the tables of %s: %s", path, exc)
        yield DatasetFailure(uri=url, reason=reason, message=str(exc))


def _database_connector(url: str) -> Connector | None:
    """Return an installed connector, other than this one, that reads ``url``."""
    from scanner.plugins import CONNECTORS, load_plugins

    for name, connector_class in load_plugins(CONNECTORS).items():
        if name == "files":
            continue
        connector = connector_class()
        if connector.accepts(url):
            return connector
    return None


def _discover_folder(path: str, walk: _Walk) -> Iterator[Found]:
    real = os.path.realpath(path)
    if real in walk.visited:
        return
    walk.visited.add(real)
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    except OSError as exc:
        yield _listing_failure(path, exc)
        return
    # Only a folder that could be listed is searched for an ignore file, so a
    # locked folder gives one failure and no warning about its ignore file.
    if any(entry.name == IGNORE_FILE for entry in entries):
        _read_ignore_file(path, walk)

    table = _table_folder(path, entries, walk)
    if table is not None:
        if path == walk.base or walk.selected(path, is_dir=True):
            yield table
        return
    if is_rosbag2_folder(path):
        # A ROS 2 bag is one dataset: its metadata and all its storage files.
        if path == walk.base or walk.selected(path, is_dir=True):
            yield RosBag2Dataset(path, walk.options.timeout)
        return
    if any(_is_partition_dir(entry) for entry in entries):
        yield from _partitioned(path, entries, walk)
        return
    yield from _discover_entries(path, entries, walk)


def _discover_entries(
    folder: str, entries: list[os.DirEntry[str]], walk: _Walk
) -> Iterator[Found]:
    """Yield the datasets of a folder's entries, part files grouped.

    A group of part files is yielded where its first member is in name order.
    """
    parts = [entry for entry in entries if _may_be_part(entry, walk)]
    grouped: dict[str, list[os.DirEntry[str]]] = {}
    for group in group_part_files(parts, lambda entry: entry.name):
        if len(group) >= 2:
            grouped[group[0].path] = group
    members = {entry.path for group in grouped.values() for entry in group}
    for entry in entries:
        if entry.path in grouped:
            yield _part_files_dataset(folder, grouped[entry.path], walk)
        elif entry.path not in members:
            yield from _discover_entry(entry.path, walk, False)


def _may_be_part(entry: os.DirEntry[str], walk: _Walk) -> bool:
    """Tell whether a folder entry is a selected regular file, not a database.

    Anything else, a symlink loop included, is left to ``_discover_entry``,
    which reports it.
    """
    if is_ignored(entry.name):
        return False
    try:
        if not entry.is_file():
            return False
    except OSError:
        return False
    return walk.selected(entry.path) and not _is_sqlite_database(entry.path)


def _part_files_dataset(
    folder: str, entries: list[os.DirEntry[str]], walk: _Walk
) -> PartitionedDataset:
    """Return one dataset of part files, named by their pattern."""
    uri = os.path.join(folder, part_pattern(entries[0].name))
    files = [PartitionFile(entry.path, ()) for entry in entries]
    return PartitionedDataset(uri, files, walk.options.timeout)


def _table_folder(
    path: str, entries: list[os.DirEntry[str]], walk: _Walk
) -> Found | None:
    """Return the dataset of a Delta or Iceberg table folder, or None."""
    from connectors.tables.detect import find_local_table

    names = {entry.name for entry in entries}
    return find_local_table(path, names, walk.options.timeout)


def _partitioned(
    path: str, entries: list[os.DirEntry[str]], walk: _Walk
) -> Iterator[Found]:
    """Yield one dataset for a partitioned folder, plus files beside it."""
    files: list[PartitionFile] = []
    beside: list[os.DirEntry[str]] = []
    for entry in entries:
        if is_ignored(entry.name):
            continue
        if _is_partition_dir(entry):
            yield from _collect_partition(entry.path, (), walk, files)
        else:
            beside.append(entry)
    # Files and plain folders beside the partitions are not part of them.
    yield from _discover_entries(path, beside, walk)
    if files and (
        walk.selected(path, is_dir=True) or any(walk.selected(f.path) for f in files)
    ):
        remaining = [
            f
            for f in files
            if not walk.excluded(f.path) and not walk.ignored_by_file(f.path, False)
        ]
        if remaining:
            yield PartitionedDataset(path, remaining, walk.options.timeout)


def _collect_partition(
    path: str,
    parent: tuple[tuple[str, str | None], ...],
    walk: _Walk,
    files: list[PartitionFile],
) -> Iterator[DatasetFailure]:
    """Add the data files under one partition folder to ``files``."""
    partition = parent
    name = os.path.basename(path)
    if _PARTITION_DIR.fullmatch(name):
        key, _, value = name.partition("=")
        partition = (*parent, (unquote(key), _partition_value(value)))
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    except OSError as exc:
        yield _listing_failure(path, exc)
        return
    for entry in entries:
        if is_ignored(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _collect_partition(entry.path, partition, walk, files)
        else:
            files.append(PartitionFile(entry.path, partition))


def _read_ignore_file(folder: str, walk: _Walk) -> None:
    path = os.path.join(folder, IGNORE_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("cannot read %s, so nothing is ignored by it: %s", path, exc)
        return
    patterns = tuple(
        line.strip() for line in lines if line.strip() and not line.startswith("#")
    )
    walk.ignore_files[os.path.abspath(folder)] = patterns


def _partition_value(raw: str) -> str | None:
    value = unquote(raw)
    return None if value == _HIVE_NULL else value


def _is_partition_dir(entry: os.DirEntry[str]) -> bool:
    return (
        not is_ignored(entry.name)
        and _PARTITION_DIR.fullmatch(entry.name) is not None
        and entry.is_dir()
    )


def is_ignored(name: str) -> bool:
    """Tell whether a file or folder name is engine bookkeeping or hidden."""
    if name.startswith(".") or name in _IGNORED_NAMES:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _IGNORED_PATTERNS)


def _listing_failure(path: str, exc: OSError) -> DatasetFailure:
    error = to_dataset_error(exc, path, "folder")
    if isinstance(exc, PermissionError):
        message = (
            f"permission denied listing {path}; grant the scanning user read and "
            "execute access to the folder or exclude it"
        )
    else:
        message = str(error)
    logger.warning("could not list %s: %s", path, message)
    return DatasetFailure(
        uri=os.path.abspath(path), reason=error.reason, message=message
    )
