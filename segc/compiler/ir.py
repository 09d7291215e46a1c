"""The typed intermediate representation: the checked model and segment conditions.

Everything here is immutable. The checker builds these objects from YAML; the emitter and the
engines only ever see these objects, never YAML.

Meaning (SPEC 2, "Meaning, exactly"): every predicate is two-valued. A row either is a member or
is not; an *empty* value (NULL, a blank string, an empty list) makes every operator false except
`IsEmpty`, and `Not` is the set complement.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Union

from segc.errors import Pos

# ---------------------------------------------------------------------------------------------
# The model (segc.yml)


class FieldType(enum.Enum):
    STRING = "string"
    ENUM = "enum"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    STRING_LIST = "string_list"

    @property
    def is_text(self) -> bool:
        return self in (FieldType.STRING, FieldType.ENUM)

    @property
    def is_temporal(self) -> bool:
        return self in (FieldType.DATE, FieldType.TIMESTAMP)


class AggFunc(enum.Enum):
    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class RelationKind(enum.Enum):
    HAS_MANY = "has_many"
    BELONGS_TO = "belongs_to"


@dataclass(frozen=True, slots=True)
class Column:
    """The field reads a column of the entity's table."""

    column: str


@dataclass(frozen=True, slots=True)
class JsonKey:
    """The field reads a key (or a dotted path of keys) of a JSON column."""

    column: str
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Aggregate:
    """The field aggregates the rows of a has_many relation that pass `where`."""

    func: AggFunc
    relation: str
    of: str | None
    where: "Pred"


@dataclass(frozen=True, slots=True)
class Lookup:
    """The field is field `of` of the entity a belongs_to relation points at."""

    relation: str
    of: str


Source = Union[Column, JsonKey, Aggregate, Lookup]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    source: Source
    values: tuple[str, ...] = ()
    pos: Pos = field(default=Pos("?"), compare=False)


@dataclass(frozen=True, slots=True)
class Relation:
    name: str
    kind: RelationKind
    target: str
    # has_many: the column of the target holding our key; belongs_to: our column holding theirs.
    column: str
    pos: Pos = field(default=Pos("?"), compare=False)


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    label: str
    table: tuple[str, ...]  # (schema, table) or (table,)
    key: str
    owner: str | None
    fields: tuple[Field, ...]
    relations: tuple[Relation, ...]
    pos: Pos = field(default=Pos("?"), compare=False)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def relation(self, name: str) -> Relation:
        for r in self.relations:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def output_fields(self) -> tuple[Field, ...]:
        """Fields a segment view shows: column and JSON fields, minus the key and owner columns."""
        shown = []
        for f in self.fields:
            if isinstance(f.source, Column) and f.source.column in (self.key, self.owner):
                continue
            if isinstance(f.source, (Column, JsonKey)):
                shown.append(f)
        return tuple(shown)


@dataclass(frozen=True, slots=True)
class Target:
    dialect: str = "duckdb"
    schema: str = "segments"
    view_prefix: str = "seg_"


@dataclass(frozen=True, slots=True)
class Model:
    target: Target
    timezone: str | None
    entities: tuple[Entity, ...]
    file: str = "segc.yml"

    def entity(self, name: str) -> Entity:
        for e in self.entities:
            if e.name == name:
                return e
        raise KeyError(name)


# ---------------------------------------------------------------------------------------------
# Dates (SPEC 3)


class Unit(enum.Enum):
    DAY = "day"
    MONTH = "month"


class Trunc(enum.Enum):
    WEEK = "week"  # ISO week: Monday
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Today:
    """The current date (in the model's time zone), or the --as-of date."""


@dataclass(frozen=True, slots=True)
class DateLit:
    value: dt.date


@dataclass(frozen=True, slots=True)
class Shift:
    """`this` plus `n` days or months; month arithmetic clamps to the month's last day."""

    this: "DateExpr"
    n: int
    unit: Unit


@dataclass(frozen=True, slots=True)
class StartOf:
    """The first day of the week (Monday), month, quarter or year that holds `this`."""

    this: "DateExpr"
    unit: Trunc


DateExpr = Union[Today, DateLit, Shift, StartOf]


def shift(this: DateExpr, n: int, unit: Unit) -> DateExpr:
    """Shift with the trivial cases folded, so `today + 0 days` is just `today`."""
    if n == 0:
        return this
    if isinstance(this, Shift) and this.unit is unit and unit is Unit.DAY:
        return shift(this.this, this.n + n, unit)
    return Shift(this, n, unit)


# ---------------------------------------------------------------------------------------------
# Predicates (SPEC 2)


class CmpOp(enum.Enum):
    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="


class TextOp(enum.Enum):
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"


class ListOp(enum.Enum):
    ANY = "contains_any"
    ALL = "contains_all"
    NONE = "contains_none"


Scalar = Union[str, Decimal, bool]


@dataclass(frozen=True, slots=True)
class FieldRef:
    entity: str
    field: str


@dataclass(frozen=True, slots=True)
class TrueP:
    """Holds for every row (an empty `all`, a segment without `where`)."""


@dataclass(frozen=True, slots=True)
class And:
    items: tuple["Pred", ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple["Pred", ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: "Pred"


@dataclass(frozen=True, slots=True)
class IsEmpty:
    ref: FieldRef


@dataclass(frozen=True, slots=True)
class Compare:
    """A string, enum, number or boolean compared with a value; `!=` holds only on non-empty."""

    ref: FieldRef
    op: CmpOp
    value: Scalar


@dataclass(frozen=True, slots=True)
class InSet:
    """`in` / `not_in`; `not_in` holds only on non-empty values."""

    ref: FieldRef
    values: tuple[Scalar, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class TextMatch:
    """Case-insensitive substring, prefix or suffix match; negated holds only on non-empty."""

    ref: FieldRef
    op: TextOp
    value: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class DateRange:
    """The (local) date of the field lies in [start, end); a missing bound is open.

    With `negated` it holds where the field is not empty and its date lies outside (`!=`).
    """

    ref: FieldRef
    start: DateExpr | None
    end: DateExpr | None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class ListMatch:
    ref: FieldRef
    op: ListOp
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Has:
    """The number of related rows passing `where` passes every test (`>= 1` unless said)."""

    entity: str
    relation: str
    where: "Pred"
    tests: tuple[tuple[CmpOp, Decimal], ...] = ((CmpOp.GE, Decimal(1)),)


Pred = Union[TrueP, And, Or, Not, IsEmpty, Compare, InSet, TextMatch, DateRange, ListMatch, Has]


def all_of(items: list[Pred]) -> Pred:
    flat: list[Pred] = []
    for item in items:
        if isinstance(item, And):
            flat.extend(item.items)
        elif not isinstance(item, TrueP):
            flat.append(item)
    if not flat:
        return TrueP()
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def any_of(items: list[Pred]) -> Pred:
    flat: list[Pred] = []
    for item in items:
        if isinstance(item, Or):
            flat.extend(item.items)
        else:
            flat.append(item)
    if any(isinstance(i, TrueP) for i in flat):
        return TrueP()
    if not flat:
        return Not(TrueP())
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


# ---------------------------------------------------------------------------------------------
# Segments


class Scope(enum.Enum):
    COMPANY = "company"
    PERSONAL = "personal"


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    name: str
    description: str | None
    entity: str
    scope: Scope
    owner: str | None
    where: Pred  # its own condition
    condition: Pred  # its own condition ANDed with every ancestor's
    parent: str | None
    level: int
    file: str
    pos: Pos = field(compare=False)
    generated: bool = False


@dataclass(frozen=True, slots=True)
class Project:
    model: Model
    segments: tuple[Segment, ...]  # display order: each parent before its children

    def segment(self, segment_id: str) -> Segment:
        for s in self.segments:
            if s.id == segment_id:
                return s
        raise KeyError(segment_id)
