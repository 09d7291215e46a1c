"""`segc dbt`: the project as a folder of dbt models that a dbt project vendors as it is.

- one model per segment (generated children included), named like its view, reading the
  entity tables through ``{{ source() }}``;
- ``segment_membership``, a UNION ALL over the segment models through ``{{ ref() }}``, and
  ``segment_counts``, the same one-pass count as `segc compile`'s view, over the sources;
- ``sources.yml`` (one source per schema of the entity tables) and ``schema.yml`` (every model's
  rule in words, its columns, and the tests: unique and not_null on the key, relationships from
  each child segment to its parent).

Dates stay relative: today is the dialect's current date (in the model's time zone), or, with
``as_of_var``, a dbt var that falls back to it (``dbt build --vars '{segc_as_of: 2024-03-13}'``).

dbt renders every model and YAML value with Jinja, so segc's own Jinja (source, ref, config, var)
is the only Jinja that reaches a file: every string literal and identifier segc prints, and every
user text in the YAML, has its Jinja openers escaped (`{{` becomes ``{{ '{' }}{``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import sqlglot
import yaml
from sqlglot import exp

from segc.compiler.emit import Emitter, union_all
from segc.compiler.ir import Entity, FieldType, Project, Segment
from segc.compiler.sqlfiles import COUNTS_VIEW, MEMBERSHIP_VIEW, comment_text
from segc.dialects import Dialect

MATERIALIZATIONS = ("view", "table")
UNQUALIFIED_SOURCE = "segc"
TODAY = "{{ segc_today }}"  # set by DbtEmitter.today_block()
_JINJA_OPENER = re.compile(r"\{(?=[{%#])")


def jinja_escape(text: str) -> str:
    """Text that Jinja renders back to itself: every `{{`, `{%` and `{#` loses its meaning."""
    return _JINJA_OPENER.sub("{{ '{' }}", text)


def jinja_string(text: str) -> str:
    """A Jinja string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Jinja(exp.Expression):
    """Jinja text printed as it is: only segc's own source(), ref() and today, never user text."""

    arg_types = {"this": True}


@functools.lru_cache(maxsize=None)
def _jinja_generator(base: type[sqlglot.Dialect]) -> type[sqlglot.Dialect]:
    """`base`, printing Jinja nodes as they are and escaping Jinja in literals and identifiers."""

    class Generator(base.Generator):  # type: ignore[name-defined,misc]
        TRANSFORMS = {**base.Generator.TRANSFORMS, Jinja: lambda self, e: e.name}

        def literal_sql(self, expression: exp.Literal) -> str:
            return jinja_escape(super().literal_sql(expression))

        def identifier_sql(self, expression: exp.Identifier) -> str:
            return jinja_escape(super().identifier_sql(expression))

    return type(f"Dbt{base.__name__}", (base,), {"Generator": Generator})


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # the dbt source name
    schema: str | None  # None: the dbt target's schema
    database: str | None


def source_of(entity: Entity) -> tuple[Source, str]:
    """The dbt source and table name an entity's table is declared under."""
    *qualifiers, table = entity.table
    if not qualifiers:
        return Source(UNQUALIFIED_SOURCE, None, None), table
    database = qualifiers[0] if len(qualifiers) == 2 else None
    return Source(qualifiers[-1], qualifiers[-1], database), table


class DbtEmitter(Emitter):
    def __init__(self, project: Project, dialect: Dialect, as_of_var: str | None = None):
        today = Jinja(this=TODAY) if as_of_var else None
        super().__init__(project, dialect, today=today)
        self.as_of_var = as_of_var

    def source_table(self, entity: Entity, alias: str) -> exp.Table:
        source, table = source_of(entity)
        call = Jinja(this=f"{{{{ source({jinja_string(source.name)}, {jinja_string(table)}) }}}}")
        return exp.Table(this=call, alias=exp.TableAlias(this=self.dialect.identifier(alias)))

    def ref(self, model: str) -> exp.Table:
        return exp.Table(this=Jinja(this=f"{{{{ ref({jinja_string(model)}) }}}}"))

    def membership_from_models(self) -> exp.Expression:
        """segment_membership over the segment models: one branch per model, in display order."""
        d = self.dialect
        branches: list[exp.Select] = []
        for seg in self.project.segments:
            entity = self.model.entity(seg.entity)
            owner = d.column(entity.owner) if entity.owner else exp.Null()
            branches.append(exp.Select(expressions=[
                exp.Alias(this=d.text(d.string(seg.id)), alias=d.identifier("segment_id")),
                exp.Alias(this=d.text(d.column(entity.key)), alias=d.identifier("member_key")),
                exp.Alias(this=d.text(owner), alias=d.identifier("owner")),
            ]).from_(self.ref(self.view_name(seg)), copy=False))
        if not branches:
            return self._empty(["segment_id", "member_key", "owner"])
        return union_all(branches)

    def today_block(self) -> str:
        """The Jinja that sets segc_today once per model: the var's date, or the current date."""
        d = self.dialect
        var = jinja_string(self.as_of_var or "")
        current = d.sql(d.current_date(self.model.timezone))
        literal = d.sql(d.date_literal("0001-01-01")).replace("0001-01-01", "{{ segc_as_of }}")
        return (
            f"{{%- set segc_as_of = var({var}, none) -%}}\n"
            f"{{%- if segc_as_of is not none and not modules.re.fullmatch('[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}', segc_as_of | string) -%}}\n"
            f"  {{{{ exceptions.raise_compiler_error('var ' ~ {var} ~ ' must be a date written YYYY-MM-DD, not ' ~ segc_as_of) }}}}\n"
            f"{{%- endif -%}}\n"
            f"{{%- set segc_today -%}}\n"
            f"  {{%- if segc_as_of is none -%}} {current} {{%- else -%}} {literal} {{%- endif -%}}\n"
            f"{{%- endset %}}\n"
        )


def dbt_files(project: Project, dialect: Dialect, *, materialized: str = "view",
              as_of_var: str | None = None) -> list[tuple[str, str]]:
    """(file name, text) of every file of the dbt folder, in a fixed order."""
    if materialized not in MATERIALIZATIONS:
        raise ValueError(f"materialized must be one of {MATERIALIZATIONS}")
    em = DbtEmitter(project, dialect, as_of_var)
    generator = _jinja_generator(dialect.generator())
    today = (f"today is var '{as_of_var}' when set, else the current date" if as_of_var
             else "today is the current date")
    prelude = em.today_block() if as_of_var else ""
    config = f"{{{{ config(materialized={jinja_string(materialized)}) }}}}\n"

    def model(name: str, source: str, query: exp.Expression) -> tuple[str, str]:
        header = jinja_escape(f"-- generated by segc from {comment_text(source)}; do not edit.\n"
                              f"-- dbt model {name}, dialect {dialect.name}, {today}.\n")
        sql = dialect.sql(query, copy=False, generator=generator)
        return f"{name}.sql", header + config + (prelude if TODAY in sql else "") + sql + "\n"

    files = [model(em.view_name(s), f"{s.file} (segment {s.id})", em.segment_query(s)) for s in project.segments]
    everything = "segc.yml and segments/*.yml"
    files.append(model(MEMBERSHIP_VIEW, everything, em.membership_from_models()))
    files.append(model(COUNTS_VIEW, everything, em.counts_query()))
    files.append(("sources.yml", _yaml_file("segc.yml", sources_yml(project))))
    files.append(("schema.yml", _yaml_file(everything, schema_yml(project, dialect, em))))
    return files


class _Dumper(yaml.SafeDumper):
    """Block style, and multi-line text (the rules in words) as literal blocks."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    multiline = "\n" in text and text == text.strip() and " \n" not in text
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if multiline else None)


_Dumper.add_representer(str, _str)


def _yaml_file(source: str, doc: dict) -> str:
    header = f"# generated by segc from {comment_text(source)}; do not edit.\n"
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                              default_flow_style=False)


def sources_yml(project: Project) -> dict:
    sources: dict[Source, dict[str, list[str]]] = {}
    for entity in project.model.entities:
        source, table = source_of(entity)
        sources.setdefault(source, {}).setdefault(table, []).append(entity.name)
    out = []
    for source, tables in sorted(sources.items(), key=lambda kv: kv[0].name):
        entry: dict = {"name": source.name}
        if source.database:
            entry["database"] = source.database
        # unqualified tables live where the dbt project's own models go
        entry["schema"] = source.schema or "{{ target.schema }}"
        entry["description"] = "Tables read by the segments segc generated."
        entry["tables"] = [{"name": table, "description": "Rows of " + ", ".join(
            jinja_escape(_entity_title(project.model.entity(e))) for e in entities)}
            for table, entities in sorted(tables.items())]
        out.append(entry)
    return {"version": 2, "sources": out}


def _entity_title(entity: Entity) -> str:
    return f"{entity.name} ({entity.label})" if entity.label and entity.label != entity.name else entity.name


def _column(dialect: Dialect, name: str, description: str, tests: list | None = None) -> dict:
    # names are quoted in the models, so the tests quote them too (spelled as the engine stores them)
    col: dict = {"name": jinja_escape(dialect.normalize(name)), "description": jinja_escape(description),
                 "quote": True}
    if tests:
        col["data_tests"] = tests
    return col


def _segment_model(project: Project, dialect: Dialect, em: DbtEmitter, seg: Segment) -> dict:
    from segc.render import describe

    entity = project.model.entity(seg.entity)
    rule = "\n".join(describe(seg.condition, None, 1))
    parts = [seg.name + ".", *([seg.description] if seg.description else []),
             f"Members: {entity.label or entity.name} ({entity.name}) where, relative to today:\n{rule}"]
    if seg.parent:
        parts.insert(1, f"Narrows {em.view_name(project.segment(seg.parent))}; its conditions hold too.")
    key_tests: list = ["unique", "not_null"]
    if seg.parent:
        parent = em.view_name(project.segment(seg.parent))
        key_tests.append({"relationships": {"arguments": {
            "to": f"ref({jinja_string(parent)})",
            "field": jinja_escape(dialect.sql(dialect.identifier(entity.key))),
        }}})
    columns = [_column(dialect, entity.key, f"The key of {entity.name}.", key_tests)]
    if entity.owner and entity.owner != entity.key:
        columns.append(_column(dialect, entity.owner, f"The owner of the {entity.name}."))
    for f in entity.output_fields:
        columns.append(_column(dialect, f.name, f"Field {f.name} ({_type_words(f.type)})."))
    return {"name": em.view_name(seg), "description": jinja_escape("\n".join(parts)), "columns": columns}


def _type_words(t: FieldType) -> str:
    return t.value.replace("_", " ")


def schema_yml(project: Project, dialect: Dialect, em: DbtEmitter) -> dict:
    models = [_segment_model(project, dialect, em, s) for s in project.segments]
    ids = [jinja_escape(s.id) for s in project.segments]
    def known_ids(model: str) -> list:
        if not ids:
            return []
        return [{"accepted_values": {"name": f"{model}_segment_id_is_a_segment", "arguments": {"values": ids}}}]

    models.append({
        "name": MEMBERSHIP_VIEW,
        "description": "One row per segment and member: every segment model, stacked.",
        "columns": [
            _column(dialect, "segment_id", "The segment's id.", ["not_null", *known_ids(MEMBERSHIP_VIEW)]),
            _column(dialect, "member_key", "The member's key, as text.", ["not_null"]),
            _column(dialect, "owner", "The member's owner, as text (empty when the entity has no owner)."),
        ],
    })
    models.append({
        "name": COUNTS_VIEW,
        "description": ("Members per segment: one row for the whole team (owner empty) and one per "
                        "segment and owner."),
        "columns": [
            _column(dialect, "segment_id", "The segment's id.", ["not_null", *known_ids(COUNTS_VIEW)]),
            _column(dialect, "parent_id", "The parent segment's id, for secondary segments."),
            _column(dialect, "level", "1 for a top-level segment, 2 for its children, and so on.", ["not_null"]),
            _column(dialect, "owner", "The owner counted, or empty for the whole team."),
            _column(dialect, "member_count", "How many members.", ["not_null"]),
        ],
    })
    return {"version": 2, "models": models}
