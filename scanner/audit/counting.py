"""Count the distinct people a transfer covers, over the whole data, in DuckDB.

Each dataset contributes the values of its subject-key columns. DuckDB
removes duplicate raw values across all datasets into a table, normalises
what is left (``normalised_key_sql``) and merges the spellings of one key:
the same phone number in two files is one person. When every distinct value
is already in normal form, as in clean data, that table holds the people.
Each key carries a bit mask of the datasets that contain it, and the
per-dataset counts and the split by sensitivity (a person is sensitive when
a dataset with sensitive personal information contains their key) are read
from these masks.

Nothing is collected in Python: the keys stay in DuckDB, which spills to
``temp_dir`` when they outgrow memory.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from scanner.audit.model import PeopleCount
from scanner.audit.readers import KeyColumns

logger = logging.getLogger(__name__)

# Relative error bound used for ``approx_count_distinct``. DuckDB 2.0.1's
# estimate had a standard error of about 3.5 % over 160 random sets of
# 5,000 to 1,000,000 values (largest error seen 9.1 %); 12 % is about 3.4
# standard errors. Measured, not documented by DuckDB.
APPROXIMATE_ERROR = 0.12

_FULL_WIDTH = "".join(chr(code) for code in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF_WIDTH = "".join(chr(code) for code in range(0x21, 0x7F)) + " "


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# Values already in normal form, which skip the costly rewriting below
# (an anchored RE2 match is one pass of a DFA).
_NORMAL_FORM = {
    "phone": "1[3-9][0-9]{9}",
    "id_number": "[0-9]{17}[0-9X]|[0-9]{15}",
    "vin": "[A-HJ-NPR-Z0-9]{17}",
    "email": "[a-z0-9._%+-]+@[a-z0-9.-]+",
    "account": "[!-~]+",
}


# The form a key must have after normalising to count as a person. A column
# labelled by a share of its values (a remark column with a few phone
# numbers) also contains other text, which is no one's key.
_VALID_FORM = {
    "phone": "\\+?[0-9]{5,15}",
    "id_number": _NORMAL_FORM["id_number"],
    "vin": _NORMAL_FORM["vin"],
    "email": "[^@\\s]+@[^@\\s]+",
}


def normalised_key_sql(key_type: str, raw: str) -> str:
    """Return SQL that normalises the key expression ``raw`` of ``key_type``.

    Full-width characters become ASCII first. Phones lose spaces, dashes,
    dots and brackets, and a +86, 0086 or 86 prefix before a mainland mobile
    number. ID numbers and VINs lose spaces and dashes and are upper-cased
    (the ID check character x is X). E-mail addresses are trimmed and
    lower-cased; accounts are trimmed. Results that are empty, or not of
    the key type's form (``_VALID_FORM``), become NULL and count no one.
    """
    # translate() is slow (it walks the mapping for every character), so
    # only values with a character outside ASCII go through it.
    full_width = (
        f"translate({raw}, {_sql_string(_FULL_WIDTH)}, {_sql_string(_HALF_WIDTH)})"
    )
    ascii_text = (
        f"(CASE WHEN regexp_matches({raw}, '[^\\x00-\\x7F]') "
        f"THEN {full_width} ELSE {raw} END)"
    )
    if key_type == "phone":
        digits = f"regexp_replace({ascii_text}, '[\\s\\-.()]', '', 'g')"
        text = (
            f"regexp_replace({digits}, '^(?:\\+86|0086|86)(1[3-9][0-9]{{9}})$', '\\1')"
        )
    elif key_type in ("id_number", "vin"):
        text = f"upper(regexp_replace({ascii_text}, '[\\s\\-]', '', 'g'))"
    elif key_type == "email":
        text = f"lower(trim({ascii_text}))"
    else:
        text = f"trim({ascii_text})"
    normal = _sql_string(_NORMAL_FORM.get(key_type, _NORMAL_FORM["account"]))
    valid = _VALID_FORM.get(key_type)
    if valid is None:
        checked = f"NULLIF({text}, '')"
    else:
        # list_filter names the normalised text once, so it is computed once.
        checked = (
            f"list_filter([{text}], "
            f"lambda key: regexp_full_match(key, {_sql_string(valid)}))[1]"
        )
    return f"CASE WHEN regexp_full_match({raw}, {normal}) THEN {raw} ELSE {checked} END"


@dataclass
class KeySet:
    """The opened key columns of one dataset, and how its people count."""

    uri: str
    key_type: str
    sources: list[KeyColumns]
    sensitive: bool
    #: Covered by a contract, HR or emergency exemption.
    covered: bool = False


@dataclass
class TransferCount:
    """People of one transfer: per dataset, counted, and dropped by exemption."""

    per_dataset: dict[str, int] = field(default_factory=dict)
    counted: PeopleCount = field(default_factory=PeopleCount)
    dropped: PeopleCount = field(default_factory=PeopleCount)
    method: str = "exact"
    error_bound: float | None = None


class PeopleCounter:
    """A DuckDB database in which one transfer's people are counted.

    DuckDB may not load or download extensions, nor read files by itself:
    every input arrives as an Arrow object registered by this class.
    """

    def __init__(
        self, temp_dir: str | None = None, memory_limit: str | None = None
    ) -> None:
        self._temp = tempfile.TemporaryDirectory(prefix="cardex-count-", dir=temp_dir)
        config: dict[str, str | bool | int | float | list[str]] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "enable_external_access": False,
            "temp_directory": self._temp.name,
            "threads": _usable_cores(),
        }
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.connection = duckdb.connect(config=config)
        self._names = itertools.count()
        self._raw_tables: list[str] = []
        self._sources: list[str] = []

    def close(self) -> None:
        self.connection.close()
        self._temp.cleanup()

    def __enter__(self) -> PeopleCounter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _register(self, data: object) -> str:
        name = f"source_{next(self._names)}"
        self.connection.register(name, data)
        self._sources.append(name)
        return name

    def _release(self) -> None:
        """Drop this count's tables and sources; readers left open then close."""
        for table in self._raw_tables:
            self.connection.execute(f"DROP TABLE IF EXISTS {table}")
        self._raw_tables.clear()
        for name in self._sources:
            self.connection.unregister(name)
        self._sources.clear()

    def _key_selects(self, keysets: Sequence[KeySet]) -> Iterator[str]:
        """Yield one SELECT of normalised keys per registered source.

        Each also yields the dataset's index and flags as constants.
        """
        for index, keyset in enumerate(keysets):
            for source in keyset.sources:
                raw = _raw_select(source, self._register(source.data))
                key = normalised_key_sql(keyset.key_type, "raw")
                yield (
                    f"SELECT {index} AS dataset, {keyset.sensitive} AS sensitive, "
                    f"{keyset.covered} AS covered, "
                    f"{_sql_string(keyset.key_type)} AS key_type, {key} AS key "
                    f"FROM ({raw})"
                )

    def _union(self, keysets: Sequence[KeySet]) -> str:
        selects = list(self._key_selects(keysets))
        if not selects:
            return (
                "SELECT NULL::INTEGER AS dataset, false AS sensitive, "
                "false AS covered, NULL::VARCHAR AS key_type, NULL::VARCHAR AS key "
                "WHERE false"
            )
        return " UNION ALL ".join(selects)

    def count_exact(
        self, keysets: Sequence[KeySet], keep_people: bool = True
    ) -> TransferCount:
        """Count distinct people exactly.

        With ``keep_people`` the people stay in a ``people`` table for
        ``hash_people``; without, it is not written, which is faster.
        ``people`` has one row per person: key_type, key, ``sensitive``
        (sensitive in a dataset not covered by an exemption), ``covered``
        (found only in covered datasets), ``sensitive_any``, and bit masks
        ``mask_0``... of the datasets the person is in.

        Each key type is grouped on its own, because keys of different
        types are never merged. A person's flags follow from the datasets
        in their mask, so the only aggregate over every row is one
        ``bit_or`` per mask word.
        """
        try:
            return self._count_exact(keysets, keep_people)
        finally:
            self._release()

    def _count_exact(
        self, keysets: Sequence[KeySet], keep_people: bool
    ) -> TransferCount:
        words = _mask_words(len(keysets))
        layout = _MaskLayout(keysets)
        by_type: dict[str, list[int]] = {}
        for index, keyset in enumerate(keysets):
            by_type.setdefault(keyset.key_type, []).append(index)
        selects = [
            self._people_of_type(key_type, keysets, indexes, words)
            for key_type, indexes in sorted(by_type.items())
        ]
        people = " UNION ALL ".join(selects) or _empty_people(words)
        mask_columns = "".join(f", mask_{word}" for word in range(words))
        if keep_people:
            self.connection.execute(
                "CREATE OR REPLACE TEMP TABLE people AS "
                f"SELECT key_type, key, {layout.sensitive} AS sensitive, "
                f"{layout.covered} AS covered, "
                f"{layout.sensitive_any} AS sensitive_any{mask_columns} "
                f"FROM ({people})"
            )
            people = "SELECT * FROM people"
        # People in the same datasets are grouped first, so the flags and the
        # per-dataset filters run over these few groups, not over every person.
        groups = self._new_table("mask_groups")
        self.connection.execute(
            f"CREATE TEMP TABLE {groups} AS "
            f"SELECT count(*) AS people{mask_columns} FROM ({people}) GROUP BY ALL"
        )
        totals = [
            f"NOT ({layout.covered}) AND NOT ({layout.sensitive})",
            f"NOT ({layout.covered}) AND {layout.sensitive}",
            f"{layout.covered} AND NOT ({layout.sensitive_any})",
            f"{layout.covered} AND {layout.sensitive_any}",
        ]
        sums = ", ".join(
            f"coalesce(sum(people) FILTER ({condition}), 0)" for condition in totals
        )
        row = self.connection.execute(f"SELECT {sums} FROM {groups}").fetchall()[0]
        per_dataset = self._people_per_dataset(groups, len(keysets))
        return TransferCount(
            per_dataset={
                keyset.uri: per_dataset.get(index, 0)
                for index, keyset in enumerate(keysets)
            },
            counted=PeopleCount(int(row[0]), int(row[1])),
            dropped=PeopleCount(int(row[2]), int(row[3])),
        )

    def _people_per_dataset(self, groups: str, datasets: int) -> dict[int, int]:
        """Sum the people of the mask groups in ``groups`` by dataset index.

        Each mask word is joined with its 64 bit positions, so the query
        stays one aggregate per word however many datasets there are.
        """
        found: dict[int, int] = {}
        for word in range(_mask_words(datasets)):
            rows = self.connection.execute(
                f"SELECT bit, sum(people) FROM {groups}, range({MASK_BITS}) AS t(bit) "
                f"WHERE (mask_{word}::UBIGINT >> bit::UBIGINT) & 1 = 1 GROUP BY bit"
            ).fetchall()
            for bit, people in rows:
                found[word * MASK_BITS + int(bit)] = int(people)
        return found

    def _people_of_type(
        self,
        key_type: str,
        keysets: Sequence[KeySet],
        indexes: Sequence[int],
        words: int,
    ) -> str:
        """Return a SELECT of the people keyed by ``key_type``, with masks.

        The distinct raw values and their masks are written to a table
        first, because normalising costs more per value than grouping and a
        transfer contains many rows per person. When every distinct value is
        already in normal form (``_NORMAL_FORM``), the values are the people
        and the table is the answer. Otherwise the values are normalised and
        grouped again, which merges the spellings of one person.
        """
        sources = []
        for index in indexes:
            masks = ", ".join(
                f"{_mask_bit(index) if word == index // MASK_BITS else 0}"
                f"::{_mask_type(len(keysets))} "
                f"AS mask_{word}"
                for word in range(words)
            )
            for source in keysets[index].sources:
                name = self._register(source.data)
                sources.append(
                    f"SELECT raw, {masks} FROM ({_raw_select(source, name)})"
                )
        if not sources:
            return _empty_people(words)
        merged = "".join(
            f", bit_or(mask_{word}) AS mask_{word}" for word in range(words)
        )
        table = self._distinct_raw_values(sources, merged)
        normal = _sql_string(_NORMAL_FORM.get(key_type, _NORMAL_FORM["account"]))
        # fetchall, not fetchone: see _people_in.
        others = self.connection.execute(
            f"SELECT count(*) FROM {table} WHERE NOT regexp_full_match(raw, {normal})"
        ).fetchall()[0][0]
        mask_columns = "".join(f", mask_{word}" for word in range(words))
        if not others:
            return (
                f"SELECT {_sql_string(key_type)} AS key_type, raw AS key"
                f"{mask_columns} FROM {table}"
            )
        spellings = (
            f"SELECT {normalised_key_sql(key_type, 'raw')} AS key{mask_columns} "
            f"FROM {table}"
        )
        return (
            f"SELECT {_sql_string(key_type)} AS key_type, key{merged} "
            f"FROM ({spellings}) WHERE key IS NOT NULL GROUP BY key"
        )

    def _distinct_raw_values(self, sources: Sequence[str], merged: str) -> str:
        """Write the distinct raw values of ``sources`` and their masks to a table.

        DuckDB keeps state for every branch of a UNION until the query ends,
        about a megabyte each, so sources are grouped ``SOURCES_PER_QUERY``
        to a query. With several groups, their distinct values are grouped
        once more. Returns the table's name.
        """
        table = self._new_table("raw_values")
        batches = [
            sources[start : start + SOURCES_PER_QUERY]
            for start in range(0, len(sources), SOURCES_PER_QUERY)
        ]
        staged = table if len(batches) == 1 else self._new_table("raw_parts")
        for number, batch in enumerate(batches):
            select = (
                f"SELECT raw{merged} FROM ({' UNION ALL '.join(batch)}) "
                "WHERE raw IS NOT NULL GROUP BY raw"
            )
            if number == 0:
                self.connection.execute(f"CREATE TEMP TABLE {staged} AS {select}")
            else:
                self.connection.execute(f"INSERT INTO {staged} {select}")
        if staged != table:
            self.connection.execute(
                f"CREATE TEMP TABLE {table} AS "
                f"SELECT raw{merged} FROM {staged} GROUP BY raw"
            )
            self.connection.execute(f"DROP TABLE {staged}")
        return table

    def _new_table(self, prefix: str) -> str:
        """Name a temporary table, dropped when the count ends."""
        name = f"{prefix}_{next(self._names)}"
        self._raw_tables.append(name)
        return name

    def count_approximate(self, keysets: Sequence[KeySet]) -> TransferCount:
        """Estimate distinct people with HyperLogLog, in one pass.

        ``personal`` is the estimate of all counted people minus the
        estimate of sensitive people, so its error bound is wider than
        ``APPROXIMATE_ERROR``. ``estimate_bounds`` accounts for that.
        """
        union = self._union(keysets)
        try:
            rows = self.connection.execute(
                "SELECT dataset, "
                "approx_count_distinct(key_type || ':' || key) AS people, "
                "approx_count_distinct(key_type || ':' || key) "
                "FILTER (NOT covered) AS counted, "
                "approx_count_distinct(key_type || ':' || key) "
                "FILTER (sensitive AND NOT covered) AS sensitive "
                f"FROM ({union}) "
                "WHERE key IS NOT NULL "
                "GROUP BY GROUPING SETS ((dataset), ())"
            ).fetchall()
        finally:
            self._release()
        total = next((row for row in rows if row[0] is None), (None, 0, 0, 0))
        per_dataset = {
            keysets[row[0]].uri: row[1] for row in rows if row[0] is not None
        }
        sensitive = int(total[3])
        return TransferCount(
            per_dataset=per_dataset,
            counted=PeopleCount(max(int(total[2]) - sensitive, 0), sensitive),
            dropped=PeopleCount(max(int(total[1]) - int(total[2]), 0), 0),
            method="approximate",
            error_bound=APPROXIMATE_ERROR,
        )

    # -- the year -------------------------------------------------------------

    def load_ledger(self, hashes: pa.RecordBatchReader) -> PeopleCount:
        """Load the year's recorded (hash, sensitive) rows; count their people."""
        name = self._register(hashes)
        self.connection.execute(
            "CREATE OR REPLACE TEMP TABLE ledger AS "
            f"SELECT key_hash, bool_or(sensitive) AS sensitive FROM {name} "
            "GROUP BY key_hash"
        )
        return self._people_in("ledger")

    def hash_people(self, salt: bytes) -> None:
        """Compute HMAC-SHA256(salt, key_type:key) of every counted person.

        DuckDB has SHA-256 but no HMAC, so HMAC (RFC 2104) is built from two
        SHA-256 calls over the padded key. A test checks it against Python's
        ``hmac`` module.
        """
        key_hash = hmac_sql(salt, "key_type || ':' || key")
        self.connection.execute(
            "CREATE OR REPLACE TEMP TABLE transfer_hashes AS "
            f"SELECT {key_hash} AS key_hash, "
            "sensitive FROM people WHERE NOT covered"
        )

    def year_total(self) -> PeopleCount:
        """Count the people of the ledger and this transfer together."""
        self.connection.execute(
            "CREATE OR REPLACE TEMP TABLE year_people AS "
            "SELECT key_hash, bool_or(sensitive) AS sensitive FROM ("
            "SELECT key_hash, sensitive FROM transfer_hashes UNION ALL "
            "SELECT key_hash, sensitive FROM ledger) GROUP BY key_hash"
        )
        return self._people_in("year_people")

    def new_hashes(self, batch_rows: int) -> pa.RecordBatchReader:
        """Return this transfer's people the ledger lacks, or has as non-sensitive."""
        return self.connection.sql(
            "SELECT t.key_hash, t.sensitive FROM transfer_hashes t "
            "LEFT JOIN ledger l USING (key_hash) "
            "WHERE l.key_hash IS NULL OR (t.sensitive AND NOT l.sensitive)"
        ).to_arrow_reader(batch_rows)

    def _people_in(self, table: str) -> PeopleCount:
        # fetchall, not fetchone: DuckDB keeps a partly fetched result open
        # and rejects the next statement on the connection.
        row = self.connection.execute(
            f"SELECT count(*) FILTER (NOT sensitive), count(*) FILTER (sensitive) "
            f"FROM {table}"
        ).fetchall()[0]
        return PeopleCount(int(row[0]), int(row[1]))


def _usable_cores() -> int:
    """Return the cores this process may run on (its affinity on Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Bits per membership mask column; a person's masks mark their datasets.
MASK_BITS = 64
# Sources read by one DuckDB query (see PeopleCounter._distinct_raw_values).
SOURCES_PER_QUERY = 64
# Narrower mask types for transfers of few datasets, which group about a
# tenth faster than UBIGINT (bench/count_bench.py, 8 datasets).
_NARROW_MASKS = ((8, "UTINYINT"), (16, "USMALLINT"), (32, "UINTEGER"))


def _mask_type(datasets: int) -> str:
    for bits, name in _NARROW_MASKS:
        if datasets <= bits:
            return name
    return "UBIGINT"


def _mask_words(datasets: int) -> int:
    return max(1, -(-datasets // MASK_BITS))


def _mask_bit(index: int) -> int:
    return 1 << (index % MASK_BITS)


def _empty_people(words: int) -> str:
    masks = "".join(f", 0::UBIGINT AS mask_{word}" for word in range(words))
    return f"SELECT NULL::VARCHAR AS key_type, NULL::VARCHAR AS key{masks} WHERE false"


def _raw_select(source: KeyColumns, name: str) -> str:
    """Select every key value of ``source`` as one VARCHAR column ``raw``."""
    if len(source.expressions) == 1:
        return f"SELECT {source.expressions[0]} AS raw FROM {name}"
    listed = ", ".join(source.expressions)
    return f"SELECT unnest([{listed}]) AS raw FROM {name}"


class _MaskLayout:
    """SQL conditions on a person's dataset masks for the three flags.

    ``sensitive``: in a sensitive dataset no exemption covers;
    ``covered``: in covered datasets only; ``sensitive_any``: in any
    sensitive dataset.
    """

    def __init__(self, keysets: Sequence[KeySet]) -> None:
        words = _mask_words(len(keysets))
        sensitive = [0] * words
        covered = [0] * words
        sensitive_any = [0] * words
        for index, keyset in enumerate(keysets):
            word, bit = index // MASK_BITS, _mask_bit(index)
            if keyset.sensitive:
                sensitive_any[word] |= bit
                if not keyset.covered:
                    sensitive[word] |= bit
            if keyset.covered:
                covered[word] |= bit
        self.sensitive = _any_bit(sensitive)
        self.sensitive_any = _any_bit(sensitive_any)
        # Covered when no bit lies outside the covered datasets.
        outside = [(~mask) & (2**MASK_BITS - 1) for mask in covered]
        self.covered = "NOT " + _any_bit(outside)


def _any_bit(masks: Sequence[int]) -> str:
    terms = [
        f"mask_{word} & {mask}::UBIGINT <> 0" for word, mask in enumerate(masks) if mask
    ]
    return "(" + (" OR ".join(terms) or "false") + ")"


# HMAC block size of SHA-256, in bytes (RFC 2104, FIPS 180-4).
_BLOCK_BYTES = 64


def hmac_sql(salt: bytes, message: str) -> str:
    """Return SQL computing hex HMAC-SHA256 with key ``salt`` of ``message``."""
    if len(salt) > _BLOCK_BYTES:
        raise ValueError("HMAC keys longer than 64 bytes must be hashed first")
    padded = salt.ljust(_BLOCK_BYTES, b"\0")
    inner = bytes(byte ^ 0x36 for byte in padded).hex()
    outer = bytes(byte ^ 0x5C for byte in padded).hex()
    inner_hash = f"from_hex(sha256(from_hex('{inner}') || encode({message})))"
    return f"sha256(from_hex('{outer}') || {inner_hash})"
