"""Check `segc.yml` (SPEC 1.1) and build the typed model."""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass, field

from segc.compiler import conditions
from segc.compiler.ir import (
    AggFunc, Aggregate, Column, Entity, Field, FieldType, JsonKey, Lookup, Model, Relation,
    RelationKind, Target, TrueP,
)
from segc.compiler.yamlfile import YMap, YNode, YScalar, YSeq, kind_name
from segc.compiler.util import (
    NAME_RE, Checker, RESERVED_FIELD_NAMES, expect_map, expect_name, expect_scalar, suggest,
)
from segc.dialects import NAMES as DIALECTS
from segc.errors import Pos

SQL_NAME_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
JSON_KEY_RE = re.compile(r"\A[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\Z")
PREFIX_RE = re.compile(r"\A[a-z0-9_]*\Z")

_TOP_KEYS = ("version", "target", "timezone", "entities")
_TARGET_KEYS = ("dialect", "schema", "view_prefix")
_ENTITY_KEYS = ("label", "table", "key", "owner", "fields", "relations", "description")
_FIELD_KEYS = ("type", "values", "column", "json", "path", "aggregate", "relation", "of", "where",
               "description")
_RELATION_KEYS = ("has_many", "belongs_to", "foreign_key", "column")


@functools.lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    """IANA zone names every engine knows ('localtime' and the like are not among them)."""
    return frozenset(zoneinfo.available_timezones())


@dataclass
class _RawEntity:
    name: str
    pos: Pos
    label: str
    table: tuple[str, ...]
    key: str
    owner: str | None
    fields: dict[str, tuple[YMap, Pos]] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)  # relations already reported as wrong


def sql_name(ck: Checker, node: YNode | None, what: str, dotted: bool = False) -> str | None:
    """A table or column name: letters, digits and underscores, so nothing else reaches SQL."""
    s = expect_scalar(ck, node, what)
    if s is None:
        return None
    parts = s.text.split(".") if dotted else [s.text]
    if len(parts) > 3 or not all(SQL_NAME_RE.match(p) for p in parts):
        ck.error("E104", s.pos, f"{what} '{s.text}' is not a valid SQL name",
                 "use letters, digits and underscores" + (" (schema.table)" if dotted else ""))
        return None
    return s.text


class ModelChecker:
    def __init__(self, ck: Checker, file: str):
        self.ck = ck
        self.file = file
        self.raw: dict[str, _RawEntity] = {}
        self.done: dict[tuple[str, str], Field | None] = {}
        self.busy: list[tuple[str, str]] = []
        self.bad_entity_names = False  # then an "unknown" target may be that entity: say nothing

    # -- top level ---------------------------------------------------------------------------

    def check(self, root: YNode) -> Model | None:
        ck = self.ck
        top = expect_map(ck, root, "segc.yml")
        if top is None:
            return None
        ck.known_keys(top, _TOP_KEYS, "segc.yml")
        version = top.get("version")
        if version is None:
            ck.error("E102", top.pos, "missing 'version'", "add version: 1")
        elif not isinstance(version, YScalar) or version.text != "1":
            ck.error("E103", version.pos, f"unsupported version {kind_name(version)}",
                     "this segc reads version: 1")
        target = self.target(top.get("target"))
        tz = self.timezone(top.get("timezone"))
        entities_node = top.get("entities")
        if entities_node is None:
            ck.error("E102", top.pos, "missing 'entities'", "declare at least one entity")
            return None
        entities = expect_map(ck, entities_node, "entities")
        if entities is None:
            return None
        for key, node in entities.items:
            name = expect_name(ck, key, "entity name")
            spec = expect_map(ck, node, f"entity '{key.text}'")
            if name and spec is not None:
                self.skeleton(name, spec)
            elif name is None:
                self.bad_entity_names = True
        for raw in self.raw.values():
            self.relations_target_check(raw)
        built = []
        for raw in self.raw.values():
            fields = tuple(f for n in raw.fields if (f := self.field(raw.name, n)) is not None)
            built.append(Entity(raw.name, raw.label, raw.table, raw.key, raw.owner, fields,
                                tuple(raw.relations.values()), raw.pos))
        if not built:
            ck.error("E102", entities.pos, "no entities declared")
        return Model(target, tz, tuple(built), self.file)

    def target(self, node: YNode | None) -> Target:
        if node is None:
            return Target()
        m = expect_map(self.ck, node, "target")
        if m is None:
            return Target()
        self.ck.known_keys(m, _TARGET_KEYS, "target")
        default = Target()
        dialect, schema, prefix = default.dialect, default.schema, default.view_prefix
        if (d := expect_scalar(self.ck, m.get("dialect"), "dialect", optional=True)) is not None:
            if d.text in DIALECTS:
                dialect = d.text
            else:
                self.ck.error("E105", d.pos, f"unknown dialect '{d.text}'", suggest(d.text, DIALECTS))
        if m.get("schema") is not None:
            schema = sql_name(self.ck, m.get("schema"), "schema", dotted=True) or schema
        if (p := expect_scalar(self.ck, m.get("view_prefix"), "view_prefix", optional=True)) is not None:
            if PREFIX_RE.match(p.text):
                prefix = p.text
            else:
                self.ck.error("E104", p.pos, f"view_prefix '{p.text}' is not valid",
                              "use lowercase letters, digits and underscores")
        return Target(dialect, schema, prefix)

    def timezone(self, node: YNode | None) -> str | None:
        s = expect_scalar(self.ck, node, "timezone", optional=True)
        if s is None:
            return None
        try:
            if s.text not in _zones():
                raise zoneinfo.ZoneInfoNotFoundError(s.text)
            zoneinfo.ZoneInfo(s.text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.ck.error("E106", s.pos, f"unknown time zone '{s.text}'",
                          suggest(s.text, sorted(_zones()))
                          or "use an IANA name such as Asia/Tokyo or UTC")
            return None
        return s.text

    # -- entities ----------------------------------------------------------------------------

    def skeleton(self, name: str, spec: YMap) -> None:
        ck = self.ck
        ck.known_keys(spec, _ENTITY_KEYS, f"entity '{name}'")
        table = sql_name(ck, spec.get("table"), "table", dotted=True) if spec.get("table") else None
        if spec.get("table") is None:
            ck.error("E102", spec.pos, f"entity '{name}' has no 'table'")
        key = sql_name(ck, spec.get("key"), "key column") if spec.get("key") is not None else None
        if spec.get("key") is None:
            ck.error("E102", spec.pos, f"entity '{name}' has no 'key'",
                     "name its unique, non-null key column")
        owner = sql_name(ck, spec.get("owner"), "owner column") if spec.get("owner") is not None else None
        label_node = expect_scalar(ck, spec.get("label"), "label", optional=True)
        raw = _RawEntity(name, spec.pos, label_node.text if label_node else name,
                         tuple((table or name).split(".")), key or "?", owner)
        self.raw[name] = raw
        if (rels := spec.get("relations")) is not None and (rm := expect_map(ck, rels, "relations")):
            for k, v in rm.items:
                if (rname := expect_name(ck, k, "relation name")) is None:
                    continue
                if (r := self.relation(rname, v)) is not None:
                    raw.relations[rname] = r
                else:
                    raw.broken.add(rname)
        if (fields := spec.get("fields")) is not None and (fm := expect_map(ck, fields, "fields")):
            for k, v in fm.items:
                fname = expect_name(ck, k, "field name")
                if fname is None:
                    continue
                if fname in RESERVED_FIELD_NAMES:
                    ck.error("E107", k.pos, f"'{fname}' is reserved and cannot name a field",
                             f"rename it, e.g. {fname}_flag")
                    continue
                if fname in raw.relations:
                    ck.error("E108", k.pos, f"'{fname}' names both a field and a relation of '{name}'")
                    continue
                if (fspec := expect_map(ck, v, f"field '{fname}'")) is not None:
                    raw.fields[fname] = (fspec, k.pos)

    def relation(self, name: str, node: YNode) -> Relation | None:
        ck = self.ck
        spec = expect_map(ck, node, f"relation '{name}'")
        if spec is None:
            return None
        ck.known_keys(spec, _RELATION_KEYS, f"relation '{name}'")
        hm, bt = spec.get("has_many"), spec.get("belongs_to")
        if (hm is None) == (bt is None):
            ck.error("E109", spec.pos, f"relation '{name}' needs exactly one of has_many or belongs_to",
                     "e.g. {has_many: order, foreign_key: customer_id}")
            return None
        if hm is not None:
            target = expect_name(ck, hm, "has_many target")
            if spec.get("column") is not None:
                ck.error("E109", spec.key_node("column").pos,
                         "a has_many relation takes foreign_key, not column",
                         "foreign_key names the column of the other table that holds our key")
            if spec.get("foreign_key") is None:
                ck.error("E102", spec.pos, f"relation '{name}' has no 'foreign_key'")
                return None
            col = sql_name(ck, spec.get("foreign_key"), "foreign_key")
            kind = RelationKind.HAS_MANY
        else:
            target = expect_name(ck, bt, "belongs_to target")
            if spec.get("foreign_key") is not None:
                ck.error("E109", spec.key_node("foreign_key").pos,
                         "a belongs_to relation takes column, not foreign_key",
                         "column names our column that holds the other entity's key")
            if spec.get("column") is None:
                ck.error("E102", spec.pos, f"relation '{name}' has no 'column'")
                return None
            col = sql_name(ck, spec.get("column"), "column")
            kind = RelationKind.BELONGS_TO
        if target is None or col is None:
            return None
        return Relation(name, kind, target, col, (hm or bt).pos)

    def relations_target_check(self, raw: _RawEntity) -> None:
        for r in list(raw.relations.values()):
            if r.target not in self.raw:
                if not self.bad_entity_names:
                    self.ck.error("E110", r.pos, f"relation '{r.name}' points at unknown entity '{r.target}'",
                                  suggest(r.target, self.raw))
                del raw.relations[r.name]
                raw.broken.add(r.name)

    # -- fields (resolved lazily: lookups and aggregates read other entities' fields) ----------

    def field(self, entity: str, name: str) -> Field | None:
        key = (entity, name)
        if key in self.done:
            return self.done[key]
        raw = self.raw[entity]
        spec, pos = raw.fields[name]
        if key in self.busy:
            self.ck.error("E111", pos, f"field '{name}' of '{entity}' is defined in terms of itself")
            return None
        self.busy.append(key)
        try:
            result = self._field(raw, name, spec, pos)
        finally:
            self.busy.pop()
        self.done[key] = result
        return result

    def lookup_field(self, entity: str, name: str) -> Field | None:
        """For conditions on related entities while the model is still being built."""
        if name not in self.raw[entity].fields:
            return None
        return self.field(entity, name)

    def _field(self, raw: _RawEntity, name: str, spec: YMap, pos: Pos) -> Field | None:
        ck = self.ck
        ck.known_keys(spec, _FIELD_KEYS, f"field '{name}'")
        if spec.get("aggregate") is not None:
            return self._aggregate(raw, name, spec, pos)
        if spec.get("relation") is not None:
            return self._lookup(raw, name, spec, pos)
        for k in ("of", "where"):
            if (kn := spec.key_node(k)) is not None:
                ck.error("E112", kn.pos, f"'{k}' belongs to aggregate or relation fields",
                         "add aggregate: or relation:")
        tnode = spec.get("type")
        if tnode is None:
            ck.error("E102", spec.pos, f"field '{name}' has no 'type'",
                     "type: string, enum, number, boolean, date, timestamp or string_list")
            return None
        t = expect_scalar(ck, tnode, "type")
        if t is None:
            return None
        try:
            ftype = FieldType(t.text)
        except ValueError:
            ck.error("E113", t.pos, f"unknown field type '{t.text}'",
                     suggest(t.text, [x.value for x in FieldType]))
            return None
        values = self._values(name, ftype, spec)
        if spec.get("json") is not None:
            if spec.get("column") is not None:
                ck.error("E112", spec.key_node("column").pos, "a field reads either column or json, not both")
            col = sql_name(ck, spec.get("json"), "json column")
            path = name
            if (p := expect_scalar(ck, spec.get("path"), "path", optional=True)) is not None:
                if JSON_KEY_RE.match(p.text):
                    path = p.text
                else:
                    ck.error("E114", p.pos, f"JSON path '{p.text}' is not allowed",
                             "use keys of letters, digits and underscores, separated by dots")
            if ftype is FieldType.STRING_LIST:
                ck.error("E112", spec.key_node("json").pos, "string_list fields read array columns, not JSON")
            return Field(name, ftype, JsonKey(col or "?", tuple(path.split("."))), values, pos)
        if (p := spec.key_node("path")) is not None:
            ck.error("E112", p.pos, "'path' goes with 'json'")
        col = name
        if spec.get("column") is not None:
            col = sql_name(ck, spec.get("column"), "column") or name
        return Field(name, ftype, Column(col), values, pos)

    def _values(self, name: str, ftype: FieldType, spec: YMap) -> tuple[str, ...]:
        ck = self.ck
        vnode = spec.get("values")
        if ftype is not FieldType.ENUM:
            if vnode is not None:
                ck.error("E112", spec.key_node("values").pos, "'values' belongs to enum fields")
            return ()
        if vnode is None:
            ck.error("E102", spec.pos, f"enum field '{name}' has no 'values'", "values: [A, B, C]")
            return ()
        if not isinstance(vnode, YSeq) or not vnode.items:
            ck.error("E115", vnode.pos, f"'values' of '{name}' must be a non-empty list, not {kind_name(vnode)}")
            return ()
        out: list[str] = []
        for item in vnode.items:
            s = expect_scalar(ck, item, "enum value")
            if s is None:
                continue
            if not s.text.strip():
                ck.error("E115", s.pos, "an enum value cannot be blank",
                         "blank values are 'empty'; test them with is_empty")
            elif s.text in out:
                ck.error("E115", s.pos, f"enum value '{s.text}' is listed twice")
            else:
                out.append(s.text)
        return tuple(out)

    def _target_entity(self, raw: _RawEntity, spec: YMap, kind: RelationKind) -> tuple[Relation, _RawEntity] | None:
        ck = self.ck
        if spec.key_node("relation") is None:
            # only aggregates get here without one: `relation:` is what makes a field a lookup
            ck.error("E102", spec.pos, "an aggregate field needs 'relation'",
                     "the has_many relation to aggregate over" + (f", e.g. relation: {next(iter(raw.relations))}"
                                                                  if raw.relations else ""))
            return None
        rnode = expect_scalar(ck, spec.get("relation"), "relation")
        if rnode is None:
            return None
        rel = raw.relations.get(rnode.text)
        if rel is None and rnode.text in raw.broken:
            return None  # the relation's own error says what is wrong
        if rel is None:
            ck.error("E110", rnode.pos, f"'{raw.name}' has no relation '{rnode.text}'",
                     suggest(rnode.text, raw.relations))
            return None
        if rel.kind is not kind:
            word = "aggregate" if kind is RelationKind.HAS_MANY else "lookup"
            ck.error("E116", rnode.pos, f"relation '{rel.name}' is {rel.kind.value}; a {word} needs {kind.value}",
                     "aggregate over has_many relations; look up fields through belongs_to ones")
            return None
        return rel, self.raw[rel.target]

    def _of(self, target: _RawEntity, spec: YMap) -> tuple[Field, YScalar] | None:
        of = expect_scalar(self.ck, spec.get("of"), "of")
        if of is None:
            return None
        if of.text not in target.fields:
            self.ck.error("E117", of.pos, f"entity '{target.name}' has no field '{of.text}'",
                          suggest(of.text, target.fields))
            return None
        f = self.field(target.name, of.text)
        return (f, of) if f else None

    def _lookup(self, raw: _RawEntity, name: str, spec: YMap, pos: Pos) -> Field | None:
        if (t := spec.key_node("type")) is not None:
            self.ck.error("E112", t.pos, "a lookup's type is the looked-up field's type; remove 'type'")
        rt = self._target_entity(raw, spec, RelationKind.BELONGS_TO)
        if rt is None:
            return None
        rel, target = rt
        if spec.get("of") is None:
            self.ck.error("E102", spec.pos, f"lookup field '{name}' needs 'of'", "the field of the other entity to read")
            return None
        got = self._of(target, spec)
        if got is None:
            return None
        other, _ = got
        return Field(name, other.type, Lookup(rel.name, other.name), other.values, pos)

    def _aggregate(self, raw: _RawEntity, name: str, spec: YMap, pos: Pos) -> Field | None:
        ck = self.ck
        if (t := spec.key_node("type")) is not None:
            ck.error("E112", t.pos, "an aggregate's type is inferred; remove 'type'")
        a = expect_scalar(ck, spec.get("aggregate"), "aggregate")
        if a is None:
            return None
        try:
            func = AggFunc(a.text)
        except ValueError:
            ck.error("E118", a.pos, f"unknown aggregate '{a.text}'", suggest(a.text, [f.value for f in AggFunc]))
            return None
        rt = self._target_entity(raw, spec, RelationKind.HAS_MANY)
        if rt is None:
            return None
        rel, target = rt
        of_field: Field | None = None
        if spec.get("of") is not None:
            got = self._of(target, spec)
            if got is None:
                return None
            of_field, of_node = got
            if func in (AggFunc.SUM, AggFunc.AVG) and of_field.type is not FieldType.NUMBER:
                ck.error("E119", of_node.pos, f"{func.value} needs a number field; '{of_field.name}' is {of_field.type.value}")
                return None
            if func in (AggFunc.MIN, AggFunc.MAX) and of_field.type is FieldType.STRING_LIST:
                ck.error("E119", of_node.pos, f"{func.value} cannot aggregate a string_list")
                return None
        elif func is not AggFunc.COUNT:
            ck.error("E102", spec.pos, f"aggregate '{func.value}' needs 'of'", "the field of the related entity")
            return None
        where = TrueP()
        if spec.get("where") is not None:
            where = conditions.check_condition(ck, spec.get("where"), target.name, self.resolver)
        if func in (AggFunc.COUNT, AggFunc.COUNT_DISTINCT, AggFunc.SUM, AggFunc.AVG):
            ftype, values = FieldType.NUMBER, ()
        else:
            assert of_field is not None
            ftype, values = of_field.type, of_field.values
        return Field(name, ftype, Aggregate(func, rel.name, of_field.name if of_field else None, where),
                     values, pos)

    # -- what the condition checker needs while the model is being built -----------------------

    def resolver(self, entity: str) -> "conditions.Scope":
        raw = self.raw[entity]
        return conditions.Scope(
            entity=entity,
            field=lambda n: self.lookup_field(entity, n),
            field_names=tuple(raw.fields),
            relation=lambda n: raw.relations.get(n),
            relation_names=tuple(raw.relations),
            broken=frozenset(raw.broken),
        )
