"""Load the rule pack: the data file that defines how each label is recognised.

The shipped pack lives in ``classifiers/rules/default.yaml``. A user file given
with ``--rules`` is merged over it: for a label id it names, the fields it sets
replace the shipped ones, and a new id adds a label. The merged pack's version
records both, and every label cardex writes carries that version.
"""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from classifiers.userlists import UserLists
from scanner.errors import RulePackError

DEFAULT_PACK = "default.yaml"

Shape = Literal[
    "any",
    "text",
    "identifier",
    "person_name",
    "date",
    "gender",
    "number",
    "vector",
    "media",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NameHints(_Strict):
    """Column-name hints in three spellings.

    English and pinyin hints match whole tokens of the column name after it
    is split on separators and camel case (``ownerPhone`` -> owner, phone);
    Chinese hints match anywhere in the name.
    """

    en: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    pinyin: tuple[str, ...] = ()
    exclude: tuple[str, ...] = Field(
        default=(),
        description="Tokens that cancel an English hint, e.g. 'city' in city_name.",
    )


class ValueRule(_Strict):
    """A value check: values passing ``validator`` are evidence for the label."""

    id: str
    validator: str
    shape: str | None = Field(
        default=None,
        description="Validator for the unvalidated form; a column mostly of this "
        "shape that fails ``validator`` is a look-alike, not the label.",
    )
    confidence: float = Field(ge=0, le=1)
    requires_name_hint: bool = False
    sparse: bool = Field(
        default=False,
        description="Whether an absolute count of hits labels a mostly other column.",
    )
    min_share: float | None = Field(default=None, ge=0, le=1)


class RoleRule(_Strict):
    """What a column must look like to fill one role of a composite rule.

    A role has up to three conditions: its name matches ``name_hints``, the
    decided column labels include one of ``labels``, and the values pass every
    value check that is set. ``match`` says whether all of the set conditions
    must hold or any one of them.
    """

    role: str = Field(description="Name of the role, shown in evidence.")
    name_hints: NameHints = NameHints()
    labels: tuple[str, ...] = Field(
        default=(), description="Column label ids decided before this rule runs."
    )
    match: Literal["all", "any"] = "all"
    numeric: bool = Field(default=False, description="90% or more values are numbers.")
    temporal: bool = Field(
        default=False, description="A date or time type, or 80% or more dates."
    )
    min_decimals: int | None = Field(
        default=None, ge=0, description="Median decimal places of the values."
    )
    value_range: tuple[float, float] | None = Field(
        default=None, description="Every numeric value lies in [low, high]."
    )
    vector_lengths: tuple[int, ...] = Field(
        default=(), description="Every value is a number vector of one length listed."
    )
    min_span: float | None = Field(
        default=None,
        ge=0,
        description="Largest minus smallest numeric value at least this "
        "(degrees of a coordinate that cover a country).",
    )
    min_distinct: int | None = Field(
        default=None,
        ge=1,
        description="Distinct values at least this; with ``validator``, distinct "
        "values that pass it.",
    )
    validator: str | None = None
    min_share: float = Field(
        default=0.6, ge=0, le=1, description="Share of values ``validator`` passes."
    )
    boost: float = Field(
        default=0.05, ge=0, le=1, description="Confidence an ``any_of`` role adds."
    )

    @property
    def has_value_checks(self) -> bool:
        return bool(
            self.numeric
            or self.temporal
            or self.min_decimals is not None
            or self.value_range is not None
            or self.vector_lengths
            or self.validator
            or self.min_span is not None
            or self.min_distinct is not None
        )


class CompositeRule(_Strict):
    """A dataset label given when columns fill the roles the rule names.

    Every role in ``all_of`` needs a column, no column may fill a role in
    ``none_of``, and each filled role in ``any_of`` adds its ``boost``.
    """

    id: str
    confidence: float = Field(ge=0, le=1)
    source: str
    provisional: bool = False
    all_of: tuple[RoleRule, ...] = Field(min_length=1)
    any_of: tuple[RoleRule, ...] = ()
    none_of: tuple[RoleRule, ...] = ()
    distinct_columns: bool = Field(
        default=True,
        description="Whether each ``all_of`` role needs a column of its own.",
    )
    also_labels: tuple[str, ...] = Field(
        default=(),
        description="Further dataset label ids given with the same evidence "
        "(flag.surveying with geodata).",
    )
    requires_labels: tuple[str, ...] = Field(
        default=(),
        description="Dataset label ids the dataset must already have, from "
        "stage 1 or from a composite rule of a label listed earlier in the pack.",
    )


class LabelRule(_Strict):
    """Names, grounds and recognition rules of one label id."""

    id: str
    category: Literal["personal", "sensitive_personal", "important", "flag"]
    name_zh: str
    name_en: str
    grounds: str
    source: str
    provisional: bool = False
    scope: Literal["column", "dataset", "both"] = "column"
    name_hints: NameHints = NameHints()
    name_confidence: float = Field(default=0.6, ge=0, le=1)
    name_shape: Shape = "any"
    name_needs_values: bool = Field(
        default=False,
        description="A name hint counts only if some values pass one of the "
        "label's validators or are masked, once there are enough values to tell.",
    )
    veto_names: tuple[str, ...] = Field(
        default=(),
        description="Name tokens that rule the label out whatever the values "
        "(a version column of dotted numbers is no IP address).",
    )
    value_rules: tuple[ValueRule, ...] = ()
    composite: tuple[CompositeRule, ...] = Field(
        default=(),
        description="Dataset-level rules over several columns; for labels of "
        "scope dataset or both.",
    )
    object_kinds: tuple[str, ...] = Field(
        default=(),
        description="Kinds of object file (image, video, point_cloud, firmware, "
        "robotics_log) given this dataset label; see classifiers.objects.",
    )
    path_hints: NameHints = Field(
        default=NameHints(),
        description="Hints matched against the folder and file names of an "
        "object file; when set, an object needs one to get the label.",
    )
    object_confidence: float = Field(
        default=0.8, ge=0, le=1, description="Confidence of an object label."
    )
    face_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Confidence of the object label once a face is detected in "
        "an image or video; unset runs no face detector.",
    )


class Thresholds(_Strict):
    """Pack-wide decision thresholds."""

    min_confidence: float = Field(default=0.5, ge=0, le=1)
    min_share: float = Field(default=0.6, ge=0, le=1)
    min_sparse_matches: int = Field(default=3, ge=1)
    look_alike_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of shaped-but-invalid values that marks a look-alike.",
    )
    masked_share: float = Field(default=0.5, ge=0, le=1)
    coordinate_decimals: int = Field(
        default=4,
        ge=0,
        description="Decimals from which a coordinate is precise (4 decimals ~ 11 m).",
    )
    min_points_in_area: int = Field(
        default=1,
        ge=1,
        description="Sampled precise points inside one geofence that make "
        "imp.sensitive_area.",
    )


class RulePackFile(_Strict):
    """The top level of a rule pack file."""

    name: str
    version: str
    thresholds: Thresholds | None = None
    labels: tuple[LabelRule, ...]

    @field_validator("labels")
    @classmethod
    def _unique_ids(cls, labels: tuple[LabelRule, ...]) -> tuple[LabelRule, ...]:
        seen: set[str] = set()
        for label in labels:
            if label.id in seen:
                raise ValueError(f"label id {label.id!r} is defined twice")
            seen.add(label.id)
        return labels


class RulePack:
    """The merged rules in force for one scan.

    ``lists`` contains the geofences and term lists the user gave for the scan;
    classifiers read them from here, so their interface stays the rule pack.
    """

    def __init__(
        self,
        labels: dict[str, LabelRule],
        thresholds: Thresholds,
        version: str,
        lists: UserLists | None = None,
    ) -> None:
        self.labels = labels
        self.thresholds = thresholds
        self.version = version
        self.lists = lists or UserLists()

    def __getitem__(self, label_id: str) -> LabelRule:
        return self.labels[label_id]

    def __contains__(self, label_id: object) -> bool:
        return label_id in self.labels

    @cached_property
    def composite_rules(self) -> list[tuple[LabelRule, CompositeRule]]:
        return [
            (label, rule) for label in self.labels.values() for rule in label.composite
        ]

    @cached_property
    def value_rules(self) -> list[tuple[LabelRule, ValueRule]]:
        return [
            (label, rule)
            for label in self.labels.values()
            for rule in label.value_rules
        ]


def _read_yaml(text: str, origin: str) -> dict[str, Any]:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulePackError(f"rule pack {origin} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RulePackError(
            f"rule pack {origin} must be a mapping with name, version and labels"
        )
    return data


def _validate(data: dict[str, Any], origin: str) -> RulePackFile:
    try:
        return RulePackFile.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {_where(error['loc'], data)}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise RulePackError(f"rule pack {origin} is invalid:\n{problems}") from exc


def _where(location: tuple[Any, ...], data: dict[str, Any]) -> str:
    """Describe a validation error's location by label id rather than index."""
    parts: list[str] = []
    for index, key in enumerate(location):
        if index == 1 and location[0] == "labels" and isinstance(key, int):
            labels = data.get("labels") or []
            label = labels[key] if key < len(labels) else {}
            parts[-1] = f"label {label.get('id', key)!s}"
            continue
        parts.append(f"field '{key}'" if isinstance(key, str) else f"item {key}")
    return ", ".join(parts) or "top level"


def _merge(shipped: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """Merge a user pack over the shipped one, label by label, key by key."""
    labels = {label["id"]: dict(label) for label in shipped.get("labels", [])}
    for label in user.get("labels") or []:
        if not isinstance(label, dict) or "id" not in label:
            raise RulePackError(f"every label in a rule pack needs an id: {label!r}")
        labels.setdefault(label["id"], {}).update(label)
    thresholds = {**(shipped.get("thresholds") or {}), **(user.get("thresholds") or {})}
    return {
        "name": shipped["name"],
        "version": f"{shipped['version']}+{user.get('name')}-{user.get('version')}",
        "thresholds": thresholds,
        "labels": list(labels.values()),
    }


def _check_validators(pack: RulePack, origin: str) -> None:
    from classifiers.shapes import all_validators

    validators = all_validators()
    for label, rule in pack.value_rules:
        for name in filter(None, (rule.validator, rule.shape)):
            if name not in validators:
                choices = ", ".join(sorted(validators))
                raise RulePackError(
                    f"rule {rule.id} of label {label.id} in {origin} names unknown "
                    f"validator {name!r}; valid validators: {choices}"
                )


def _check_composites(pack: RulePack, origin: str) -> None:
    from classifiers.shapes import all_validators

    validators = all_validators()
    for label, rule in pack.composite_rules:
        where = f"composite rule {rule.id} of label {label.id} in {origin}"
        roles = (*rule.all_of, *rule.any_of, *rule.none_of)
        role_labels = (i for r in roles for i in r.labels)
        for name in [*rule.also_labels, *rule.requires_labels, *role_labels]:
            if name not in pack:
                raise RulePackError(
                    f"{where} names unknown label id {name!r}; "
                    "add the label or correct the id"
                )
        for role in roles:
            if role.validator and role.validator not in validators:
                choices = ", ".join(sorted(validators))
                raise RulePackError(
                    f"{where} names unknown validator {role.validator!r} in role "
                    f"{role.role}; valid validators: {choices}"
                )


def load_rule_pack(user_file: str | Path | None = None) -> RulePack:
    """Load the shipped rule pack, merged with ``user_file`` when given."""
    shipped_text = resources.files("classifiers.rules").joinpath(DEFAULT_PACK)
    data = _read_yaml(shipped_text.read_text(encoding="utf-8"), DEFAULT_PACK)
    origin = DEFAULT_PACK

    if user_file is not None:
        path = Path(user_file)
        try:
            user_text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulePackError(
                f"cannot read rule pack {path}: {exc.strerror}; check the --rules path"
            ) from exc
        user = _read_yaml(user_text, str(path))
        for key in ("name", "version"):
            if not user.get(key):
                raise RulePackError(f"rule pack {path} needs a '{key}' field")
        data = _merge(data, user)
        origin = str(path)

    pack_file = _validate(data, origin)
    pack = RulePack(
        {label.id: label for label in pack_file.labels},
        pack_file.thresholds or Thresholds(),
        pack_file.version,
    )
    _check_validators(pack, origin)
    _check_composites(pack, origin)
    return pack
