"""List the datasets under an object-store prefix.

The walk lists one "directory" level at a time (a ``ListObjectsV2`` request
with a ``/`` delimiter, paginated by the SDK), yields that level's datasets,
then goes down into its sub-prefixes. Memory therefore contains one level's
entries and the stack of prefixes still to visit, never the whole listing of
a large prefix. NOTE: a single level with very many objects (100,000 keys
side by side) is still held in memory as one list, about 200 bytes a key,
because pyarrow returns a level as one list and grouping part files needs
the whole level.

A prefix is grouped the way the file connector groups a folder:

- a prefix with a ``_delta_log/`` is one Delta table, and one with an Iceberg
  ``metadata/`` folder of ``*.metadata.json`` files is one Iceberg table;
- a prefix whose sub-prefixes are named ``key=value`` is one partitioned
  dataset, partition keys becoming columns;
- part files of one table side by side (table files whose names differ only
  in digits, such as ``part-00000.parquet`` and ``part-00001.parquet``) are
  one dataset, grouped by the same function as in a local folder;
- every other object is its own dataset.

Engine bookkeeping (``_SUCCESS``, ``_committed_*``, ``*.crc``, checkpoints,
``_temporary/``, hidden names) is skipped. ``--include``, ``--exclude`` and
``.cardexignore`` objects follow the same ``.gitignore`` rules as for files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import pyarrow.fs as pafs

from connectors.base import DiscoveryOptions
from connectors.files.discovery import (
    IGNORE_FILE,
    glob_matches,
    group_part_files,
    is_ignored,
    part_pattern,
)
from connectors.files.errors import NOT_FOUND
from connectors.files.handles import PartitionFile
from connectors.objectstore.handles import (
    FileSetDataset,
    ObjectDataset,
    ObjectInfo,
    remote_opener,
)
from connectors.objectstore.store import ObjectStore
from scanner.errors import AccessDeniedError
from scanner.model import DatasetFailure, DatasetHandle

logger = logging.getLogger(__name__)

Found = DatasetHandle | DatasetFailure
# Builds the dataset of a Delta or Iceberg table found at a prefix.
TableFinder = Callable[[ObjectStore, str, list[pafs.FileInfo], float], Found | None]

_PARTITION_NAME = re.compile(r"[^=/]+=[^=/]*")
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Names ignored in object stores on top of the file connector's list:
# Spark's and Flink's checkpoint folders and their ``.inprogress`` files.
_EXTRA_IGNORED = re.compile(r"(checkpoints?|_checkpoint|.*\.inprogress.*)", re.I)
# Ignore files larger than this are not read (bytes).
_IGNORE_FILE_LIMIT = 64 * 1024


@dataclass
class _Walk:
    """Settings and state of one listing run."""

    store: ObjectStore
    base: str
    options: DiscoveryOptions
    find_table: TableFinder | None = None
    ignore_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    listed: int = 0

    def relative(self, path: str) -> str:
        if path == self.base:
            return path.rsplit("/", 1)[-1]
        return path.removeprefix(self.base + "/")

    def ignored_by_file(self, path: str, is_dir: bool) -> bool:
        for folder, patterns in self.ignore_files.items():
            if not path.startswith(folder + "/"):
                continue
            relative = path.removeprefix(folder + "/")
            if any(glob_matches(relative, pattern, is_dir) for pattern in patterns):
                return True
        return False

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        relative = self.relative(path)
        return any(glob_matches(relative, p, is_dir) for p in self.options.exclude)

    def selected(self, path: str, is_dir: bool = False) -> bool:
        if self.ignored_by_file(path, is_dir):
            return False
        relative = self.relative(path)
        include = self.options.include
        if include and not any(glob_matches(relative, p, is_dir) for p in include):
            return False
        return not self.excluded(path, is_dir)


def discover_store(
    store: ObjectStore, options: DiscoveryOptions, find_table: TableFinder | None
) -> Iterator[Found]:
    """Yield the datasets under the store's root path."""
    walk = _Walk(store, store.root, options, find_table)
    try:
        info = store.filesystem.get_file_info(store.root)
    except Exception as exc:
        error = store.translate(exc, store.uri(store.root), "listing")
        if not isinstance(error, AccessDeniedError):
            yield _listing_failure(walk, store.root, exc)
            return
        # Reading the root as an object may be denied where listing it as a
        # prefix is allowed (a policy on ``prefix/*``), so list it.
        info = pafs.FileInfo(store.root, pafs.FileType.Directory)
    if info.type == pafs.FileType.File:
        walk.base = store.root.rsplit("/", 1)[0]
        if walk.selected(info.path):
            yield ObjectDataset(store, _object_info(info), options.timeout)
        return
    if info.type == pafs.FileType.NotFound and "/" in store.root:
        hint = "check the bucket and prefix"
        if any(char in store.root for char in "*?["):
            hint = (
                "glob patterns are not expanded in object-store URLs; scan the "
                "prefix and select objects with --include"
            )
        yield DatasetFailure(
            uri=store.uri(store.root),
            reason=NOT_FOUND,
            message=f"{store.uri(store.root)} matches no object or prefix; {hint}",
        )
        return
    yield from _walk_prefixes(walk)
    logger.info("listed %d objects under %s", walk.listed, store.uri(store.root))


def _walk_prefixes(walk: _Walk) -> Iterator[Found]:
    """Visit prefixes depth first, in name order, one listing each."""
    pending = [walk.base]
    while pending:
        prefix = pending.pop()
        entries = yield from _list_level(walk, prefix)
        if entries is None:
            continue
        children = yield from _discover_level(walk, prefix, entries)
        pending.extend(reversed(children))


def _list_level(
    walk: _Walk, prefix: str
) -> Generator[Found, None, list[pafs.FileInfo] | None]:
    """Yield a failure if ``prefix`` cannot be listed; return its entries."""
    selector = pafs.FileSelector(prefix, recursive=False)
    try:
        entries = walk.store.filesystem.get_file_info(selector)
    except Exception as exc:
        yield _listing_failure(walk, prefix, exc)
        return None
    walk.listed += len(entries)
    return sorted(entries, key=lambda entry: entry.path)


def _discover_level(
    walk: _Walk, prefix: str, entries: list[pafs.FileInfo]
) -> Generator[Found, None, list[str]]:
    """Yield the datasets of one level; return the sub-prefixes still to walk."""
    if any(_name(e) == IGNORE_FILE for e in entries):
        _read_ignore_file(walk, prefix)
    if walk.find_table is not None:
        table = walk.find_table(walk.store, prefix, entries, walk.options.timeout)
        if table is not None:
            if walk.selected(prefix, is_dir=True) or prefix == walk.base:
                yield table
            return []

    kept = [e for e in entries if not _skipped(walk, e)]
    if any(_is_partition(e) for e in kept):
        yield from _partitioned(walk, prefix, kept)
        return [e.path for e in kept if _is_dir(e) and not _is_partition(e)]

    files = [e for e in kept if e.type == pafs.FileType.File]
    yield from _file_datasets(walk, prefix, files)
    return [e.path for e in kept if _is_dir(e)]


def _skipped(walk: _Walk, entry: pafs.FileInfo) -> bool:
    name = _name(entry)
    if is_ignored(name) or _EXTRA_IGNORED.fullmatch(name):
        return True
    is_dir = _is_dir(entry)
    if walk.ignored_by_file(entry.path, is_dir):
        return True
    return is_dir and walk.excluded(entry.path, is_dir=True)


def _file_datasets(
    walk: _Walk, prefix: str, files: list[pafs.FileInfo]
) -> Iterator[Found]:
    """Yield part files of one table as one dataset, other files one by one."""
    selected = [f for f in files if walk.selected(f.path)]
    for members in group_part_files(selected, _name):
        if len(members) >= 2:
            yield _file_set(walk, prefix, members, ())
            continue
        for entry in members:
            yield ObjectDataset(walk.store, _object_info(entry), walk.options.timeout)


def _partitioned(
    walk: _Walk, prefix: str, entries: list[pafs.FileInfo]
) -> Iterator[Found]:
    """Yield one dataset for the partitions under ``prefix``, plus files beside."""
    collected: list[tuple[pafs.FileInfo, tuple[tuple[str, str | None], ...]]] = []
    for entry in entries:
        if _is_partition(entry):
            yield from _collect_partition(walk, entry.path, (), collected)
    beside = [e for e in entries if e.type == pafs.FileType.File]
    yield from _file_datasets(walk, prefix, beside)

    remaining = [
        (entry, partition)
        for entry, partition in collected
        if not walk.excluded(entry.path) and not walk.ignored_by_file(entry.path, False)
    ]
    if not remaining:
        return
    if not (
        walk.selected(prefix, is_dir=True)
        or any(walk.selected(entry.path) for entry, _ in remaining)
    ):
        return
    yield _file_set(
        walk,
        prefix,
        [entry for entry, _ in remaining],
        tuple(partition for _, partition in remaining),
    )


def _collect_partition(
    walk: _Walk,
    path: str,
    parent: tuple[tuple[str, str | None], ...],
    collected: list[tuple[pafs.FileInfo, tuple[tuple[str, str | None], ...]]],
) -> Iterator[Found]:
    """Add the data objects under one partition prefix to ``collected``."""
    partition = parent
    name = path.rsplit("/", 1)[-1]
    if _PARTITION_NAME.fullmatch(name):
        key, _, value = name.partition("=")
        partition = (*parent, (unquote(key), _partition_value(value)))
    entries = yield from _list_level(walk, path)
    if entries is None:
        return
    for entry in entries:
        entry_name = _name(entry)
        if is_ignored(entry_name) or _EXTRA_IGNORED.fullmatch(entry_name):
            continue
        if _is_dir(entry):
            yield from _collect_partition(walk, entry.path, partition, collected)
        elif entry.type == pafs.FileType.File:
            collected.append((entry, partition))


def _file_set(
    walk: _Walk,
    prefix: str,
    entries: list[pafs.FileInfo],
    partitions: tuple[tuple[tuple[str, str | None], ...], ...],
) -> FileSetDataset:
    if not partitions:
        partitions = tuple(() for _ in entries)
    files = [
        PartitionFile(entry.path, partition)
        for entry, partition in zip(entries, partitions, strict=True)
    ]
    sizes = {entry.path: (entry.size or 0, _modified(entry)) for entry in entries}
    uri = walk.store.uri(prefix)
    if not any(partitions):
        # Part files side by side: the dataset is named by their pattern.
        uri = walk.store.uri(f"{prefix}/{part_pattern(_name(entries[0]))}")
    return FileSetDataset(
        uri,
        files,
        walk.options.timeout,
        remote_opener(walk.store),
        sizes,
        walk.store.filesystem,
    )


def _read_ignore_file(walk: _Walk, prefix: str) -> None:
    path = f"{prefix}/{IGNORE_FILE}"
    try:
        with walk.store.filesystem.open_input_file(path) as handle:
            data = handle.read(_IGNORE_FILE_LIMIT)
        lines = data.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning(
            "cannot read %s, so nothing is ignored by it: %s",
            walk.store.uri(path),
            walk.store.scrub(str(exc)),
        )
        return
    patterns = tuple(
        line.strip() for line in lines if line.strip() and not line.startswith("#")
    )
    walk.ignore_files[prefix] = patterns


def _listing_failure(walk: _Walk, path: str, exc: BaseException) -> DatasetFailure:
    uri = walk.store.uri(path)
    error = walk.store.translate(exc, uri, "listing")
    message = str(error)
    if error.reason == "unreadable" and "not found" in message:
        return DatasetFailure(
            uri=uri,
            reason=NOT_FOUND,
            message=f"{uri} does not exist; check the bucket and prefix",
        )
    logger.warning("could not list %s: %s", uri, message)
    return DatasetFailure(uri=uri, reason=error.reason, message=message)


def _object_info(entry: pafs.FileInfo) -> ObjectInfo:
    return ObjectInfo(entry.path, entry.size or 0, _modified(entry))


def _modified(entry: pafs.FileInfo) -> float | None:
    mtime = entry.mtime
    return mtime.timestamp() if mtime is not None else None


def _name(entry: pafs.FileInfo) -> str:
    return entry.path.rstrip("/").rsplit("/", 1)[-1]


def _is_dir(entry: pafs.FileInfo) -> bool:
    return entry.type == pafs.FileType.Directory


def _is_partition(entry: pafs.FileInfo) -> bool:
    return _is_dir(entry) and _PARTITION_NAME.fullmatch(_name(entry)) is not None


def _partition_value(raw: str) -> str | None:
    value = unquote(raw)
    return None if value == _HIVE_NULL else value
