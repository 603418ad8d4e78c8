"""Flattening nested Arrow tables and JSON records into leaf columns."""

import time

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files.flatten import (
    MAX_COLUMNS,
    MAX_RECORD_DEPTH,
    ColumnLimitError,
    flatten_records,
    flatten_table,
    unique_names,
)


def _flat(table: pa.Table) -> dict[str, list]:
    flat, _ = flatten_table(table)
    return flat.to_pydict()


def test_struct_fields_get_dotted_names() -> None:
    owner = pa.array(
        [{"name": "Li", "contact": {"phone": "13800138000"}}, None],
    )
    flat = _flat(pa.table({"owner": owner}))
    assert flat == {
        "owner.name": ["Li", None],
        "owner.contact.phone": ["13800138000", None],
    }


def test_list_of_strings_keeps_one_list_per_row() -> None:
    flat = _flat(pa.table({"phones": pa.array([["1", "2"], [], None])}))
    assert flat == {"phones[]": [["1", "2"], [], None]}


def test_list_of_structs_becomes_list_columns() -> None:
    stops = pa.array([[{"city": "Wuhan", "n": 1}, {"city": "Xi'an", "n": 2}], None])
    flat = _flat(pa.table({"stops": stops}))
    assert flat["stops[].city"] == [["Wuhan", "Xi'an"], None]
    assert flat["stops[].n"] == [[1, 2], None]


def test_nested_lists_collect_every_leaf() -> None:
    nested = pa.array([[["a", "b"], ["c"]], [[]], [None, ["d"]]])
    flat = _flat(pa.table({"a": nested}))
    assert flat == {"a[][]": [["a", "b", "c"], [], ["d"]]}


def test_list_of_numbers_keeps_plain_name() -> None:
    embedding = pa.array([[0.1, 0.2], [0.3, 0.4]], pa.list_(pa.float32(), 2))
    flat, types = flatten_table(pa.table({"face_feature": embedding}))
    assert flat.column_names == ["face_feature"]
    assert pa.types.is_fixed_size_list(flat["face_feature"].type)
    assert types["face_feature"].startswith("fixed_size_list")


def test_vectors_under_a_list_stay_vectors() -> None:
    points = pa.array([[{"xy": [1.0, 2.0]}, {"xy": [3.0, 4.0]}]])
    flat = _flat(pa.table({"track": points}))
    assert flat == {"track[].xy": [[[1.0, 2.0], [3.0, 4.0]]]}


def test_map_becomes_key_and_value_columns() -> None:
    kind = pa.map_(pa.string(), pa.map_(pa.int32(), pa.bool_()))
    maps = pa.array(
        [[("a", [(1, True)])], None, [("b", []), ("c", [(2, False)])]], kind
    )
    flat = _flat(pa.table({"m": maps}))
    assert flat["m{}.key"] == [["a"], None, ["b", "c"]]
    assert flat["m{}.value{}.key"] == [[1], None, [2]]
    assert flat["m{}.value{}.value"] == [[True], None, [False]]


def test_dictionary_columns_are_decoded() -> None:
    cities = pa.array(["Wuhan", "Wuhan", None]).dictionary_encode()
    flat, _ = flatten_table(pa.table({"city": cities}))
    assert flat["city"].type == pa.string()
    assert flat["city"].to_pylist() == ["Wuhan", "Wuhan", None]


def test_dictionary_inside_list_is_decoded() -> None:
    values = pa.array(["x", "y"]).dictionary_encode()
    tags = pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), values)
    flat, _ = flatten_table(pa.table({"tags": tags}))
    assert flat["tags[]"].type == pa.list_(pa.string())


def test_binary_columns_stay_binary() -> None:
    flat, _ = flatten_table(pa.table({"photo": pa.array([b"\xff\xd8"], pa.binary())}))
    assert flat["photo"].type == pa.binary()


def test_extension_column_uses_storage() -> None:
    flat, types = flatten_table(pa.table({"id": pa.array([b"0" * 16], pa.uuid())}))
    assert flat["id"].type == pa.binary(16)
    assert "uuid" in types["id"]


def test_sliced_table_flattens_its_rows_only() -> None:
    stops = pa.array([[{"c": "a"}], [{"c": "b"}], [{"c": "c"}, {"c": "d"}]])
    flat = _flat(pa.table({"s": stops}).slice(1))
    assert flat == {"s[].c": [["b"], ["c", "d"]]}


def test_union_values_become_strings() -> None:
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1], pa.int8()),
        [pa.array([1, 2]), pa.array(["a", "b"])],
    )
    flat = _flat(pa.table({"u": union}))
    assert flat == {"u": ["1", "b"]}


def test_records_flatten_like_arrow() -> None:
    records = [
        {"owner": {"name": "Li", "phones": ["1", "2"]}, "trips": [{"city": "Wuhan"}]},
        {"owner": {"name": "Wang"}, "embedding": [0.5, 1]},
    ]
    table, types, notes = flatten_records(records)
    flat = table.to_pydict()
    assert flat["owner.name"] == ["Li", "Wang"]
    assert flat["owner.phones[]"] == [["1", "2"], None]
    assert flat["trips[].city"] == [["Wuhan"], None]
    assert flat["embedding"] == [None, [0.5, 1.0]]
    assert types["embedding"] == "array<number>"
    assert notes == []


def test_records_with_mixed_types_become_strings() -> None:
    records = [{"v": 1}, {"v": "one"}, {"v": True}, {"v": None}, {"v": {"x": 1}}]
    table, types, _ = flatten_records(records)
    assert table["v"].to_pylist() == ["1", "one", "true", None, None]
    assert types["v"] == "mixed"
    assert table["v.x"].to_pylist() == [None, None, None, None, 1]


def test_records_keep_numbers_exact() -> None:
    records = [{"n": 1}, {"n": 2.5}, {"big": 2**70}, {"big": 3}]
    table, types, _ = flatten_records(records)
    assert table["n"].to_pylist() == [1.0, 2.5, None, None]
    assert types["n"] == "number"
    assert table["big"].to_pylist() == [None, None, str(2**70), "3"]


def test_records_that_are_not_objects() -> None:
    table, _, _ = flatten_records([1, "a", [1, 2]])
    assert table.column_names == ["value"]


def test_deep_records_are_kept_as_text() -> None:
    deep: dict = {}
    node = deep
    for _ in range(MAX_RECORD_DEPTH + 5):
        node["a"] = {}
        node = node["a"]
    node["leaf"] = "x"
    table, _, notes = flatten_records([deep])
    assert table.num_columns == 1
    assert len(notes) == 1


_json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_json = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_json, max_size=6))
def test_any_json_records_flatten(records: list) -> None:
    table, types, _ = flatten_records(records)
    if records:
        assert table.num_rows == len(records) or table.num_columns == 0
    assert set(types) == set(table.column_names)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["phone", "phone", "id"], ["phone", "phone_2", "id"]),
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["a_2", "a", "a"], ["a_2", "a", "a_3"]),
        (["a", "a", "a_2"], ["a", "a_2", "a_2_2"]),
        (["x.y[]", "x.y[]"], ["x.y[]", "x.y[]_2"]),
        ([], []),
    ],
)
def test_unique_names(names: list[str], expected: list[str]) -> None:
    assert unique_names(names) == expected


def test_unique_names_is_linear() -> None:
    # Comparing each name with all names before it took a minute for 100,000.
    started = time.monotonic()
    names = unique_names(["a"] * 200_000)
    assert time.monotonic() - started < 5
    assert names[-1] == "a_200000"
    assert len(set(names)) == len(names)


def test_colliding_leaves_use_number_suffix() -> None:
    table = pa.table({"owner": pa.array([{"name": "Li"}]), "owner.name": ["Wang"]})
    flat, types = flatten_table(table)
    assert flat.column_names == ["owner.name", "owner.name_2"]
    assert set(types) == {"owner.name", "owner.name_2"}


def test_records_with_too_many_leaves_raise() -> None:
    record = {f"k{i}": i for i in range(MAX_COLUMNS + 1)}
    with pytest.raises(ColumnLimitError) as caught:
        flatten_records([record])
    assert caught.value.found == f"{MAX_COLUMNS + 1:,} leaf columns"


def test_sparse_records_fill_missing_leaves() -> None:
    records = [{"a": 1}, {"b": 2}, {"a": 3, "c": 4}]
    table, _, _ = flatten_records(records)
    assert table.to_pydict() == {
        "a": [1, None, 3],
        "b": [None, 2, None],
        "c": [None, None, 4],
    }
