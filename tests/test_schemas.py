"""The editor schemas (segc/schemas/*.schema.json) against the checkers that decide validity.

The schemas serve yaml-language-server: they must accept every file `segc validate` accepts (an
editor that underlines a valid file is worse than none) and reject what is wrong in shape:
unknown keys, wrong kinds of node, unknown operators, periods, types, dialects, malformed names,
durations and dates. What needs the model (does this field exist, which operators its type takes,
is this enum value declared) stays with `segc validate`.

Files are read as an editor may read them: YAML 1.1 (`yaml.safe_load`: NO, on and yes are booleans,
2024-03-01 is a date) and YAML 1.2 core (yaml-language-server's default: those are strings).
segc itself reads the text of every scalar by its field's type, so both readings must validate.
"""

from __future__ import annotations

import ast
import functools
import importlib.resources
import json
import re
import tempfile
import tomllib
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from referencing import Registry, Resource

from segc.compiler import conditions, dates, load_project
from segc.compiler import check_model, check_segments
from segc.compiler.ir import AggFunc, FieldType, Scope
from segc.compiler.project import segment_files
from segc.compiler.util import NAME_RE, RESERVED_FIELD_NAMES
from segc.dialects import NAMES as DIALECTS
from segc.errors import SegcError
from segc.schemas import SCHEMAS, schema_text

from properties import worlds  # tests/properties.py: the differential tests' random worlds

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "segc" / "schemas"
EXAMPLE = ROOT / "fixtures" / "example"
GOOD = sorted(p for p in (ROOT / "tests" / "corpus" / "good").iterdir() if p.is_dir())
BAD = ROOT / "tests" / "corpus" / "bad"

MODEL = "segc.yml"
SEGMENTS = "segments"


def _read_schema(kind: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / SCHEMAS[kind]).read_text(encoding="utf-8"))


SCHEMA = {kind: _read_schema(kind) for kind in SCHEMAS}
VALIDATOR = {kind: jsonschema.Draft202012Validator(s) for kind, s in SCHEMA.items()}


# ------------------------------------------------------------------------------------------------
# reading YAML as editors do


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML with the YAML 1.2 core schema's implicit types (what yaml-language-server uses)."""

    yaml_implicit_resolvers: dict = {}


for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+0123456789.")),
):
    _Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)


def _construct_int12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)  # 007 is 7 in YAML 1.2, not octal


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int12)


def _as_json(data: Any) -> Any:
    """What a JSON Schema validator sees: dates as text, every key a string."""
    return json.loads(json.dumps(data, default=str))


def load_yaml11(text: str) -> Any:
    return _as_json(yaml.safe_load(text))


def load_yaml12(text: str) -> Any:
    return _as_json(yaml.load(text, Loader=_Yaml12Loader))


LOADERS: dict[str, Callable[[str], Any]] = {"yaml1.1": load_yaml11, "yaml1.2": load_yaml12}


def schema_errors(kind: str, text: str, loader: str) -> list[str]:
    return list(_schema_errors(kind, text, loader))


@functools.lru_cache(maxsize=256)  # the fuzz mutants leave one file of two as it was
def _schema_errors(kind: str, text: str, loader: str) -> tuple[str, ...]:
    data = LOADERS[loader](text)
    return tuple(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                 for e in VALIDATOR[kind].iter_errors(data))


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig")


def project_files(project: Path) -> Iterator[tuple[str, Path]]:
    """The files segc reads in a project (segment_files skips README.md, *.bak and the like)."""
    yield MODEL, project / "segc.yml"
    for path in segment_files(project):
        yield SEGMENTS, path


def checker_codes(tmp_path: Path, model: str, segments: str | None = None) -> list[str]:
    """The codes of the errors `segc validate` reports for a project of these two files."""
    (tmp_path / "segments").mkdir(exist_ok=True)
    (tmp_path / "segc.yml").write_text(model, encoding="utf-8")
    (tmp_path / "segments" / "s.yml").write_text(segments if segments is not None else "segments: []\n",
                                                 encoding="utf-8")
    try:
        load_project(tmp_path, check_lock=False)
    except SegcError as exc:
        return [d.code for d in exc.diagnostics if d.code.startswith("E")]
    return []


# ------------------------------------------------------------------------------------------------
# the schema files themselves


@pytest.mark.parametrize("kind", SCHEMAS)
def test_schema_is_valid_draft_2020_12(kind: str) -> None:
    schema = SCHEMA[kind]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://segc.dev/schemas/{SCHEMAS[kind]}"
    assert schema["title"] and schema["description"]


@pytest.mark.parametrize("kind", SCHEMAS)
def test_schema_file_is_tidy(kind: str) -> None:
    """Deterministic layout: 2-space JSON, UTF-8, one trailing newline."""
    text = (SCHEMA_DIR / SCHEMAS[kind]).read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def _walk(node: Any, defs: dict[str, Any], follow_branches: bool) -> Iterator[dict[str, Any]]:
    """Every schema object reachable from node; $refs followed once. Without follow_branches, the
    subschemas of if/then/else/allOf are skipped: what is left is what completion shows."""
    seen: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        yield item
        for key, value in item.items():
            if key == "$defs" or (not follow_branches and key in ("if", "then", "else", "allOf")):
                continue
            if key == "$ref":
                name = value.removeprefix("#/$defs/")
                if name not in seen:
                    seen.add(name)
                    stack.append(defs[name])
            elif key in ("properties", "patternProperties"):
                stack.extend(value.values())
            elif key not in ("enum", "const", "default", "examples"):
                stack.append(value)


@pytest.mark.parametrize("kind", SCHEMAS)
def test_every_property_has_a_description(kind: str) -> None:
    schema = SCHEMA[kind]
    defs = schema["$defs"]
    missing = []
    for node in _walk(schema, defs, follow_branches=False):
        for name, prop in node.get("properties", {}).items():
            if isinstance(prop, bool):
                continue
            target = defs[prop["$ref"].removeprefix("#/$defs/")] if "$ref" in prop else {}
            if not prop.get("description") and not target.get("description"):
                missing.append(name)
    assert not missing, f"properties without a description: {missing}"


@pytest.mark.parametrize("kind", SCHEMAS)
def test_every_definition_is_used(kind: str) -> None:
    schema = SCHEMA[kind]
    used = {n["$ref"].removeprefix("#/$defs/") for n in _walk(schema, schema["$defs"], True) if "$ref" in n}
    assert used == set(schema["$defs"])


def test_shared_definitions_are_identical() -> None:
    """The condition tree is written out in both files (an editor must not need to fetch the
    other file by its $id); both copies must stay the same."""
    model_defs, segment_defs = SCHEMA[MODEL]["$defs"], SCHEMA[SEGMENTS]["$defs"]
    shared = set(model_defs) & set(segment_defs)
    assert {"condition", "has", "countTest", "test", "name", "scalar", "duration"} <= shared
    for name in sorted(shared):
        assert model_defs[name] == segment_defs[name], name


# ------------------------------------------------------------------------------------------------
# closed sets and key lists agree with the code


def _props(kind: str, *path: str) -> dict[str, Any]:
    node = SCHEMA[kind]
    for step in path:
        node = node[step]
    return node["properties"]


def test_closed_sets_match_the_code() -> None:
    m, s = SCHEMA[MODEL], SCHEMA[SEGMENTS]
    mdefs, sdefs = m["$defs"], s["$defs"]
    assert mdefs["target"]["properties"]["dialect"]["enum"] == [*DIALECTS, None]
    assert mdefs["field"]["properties"]["type"]["enum"] == [t.value for t in FieldType]
    assert mdefs["field"]["properties"]["aggregate"]["enum"] == [f.value for f in AggFunc]
    assert sdefs["test"]["properties"]["in_period"]["enum"] == list(dates.PERIODS)
    assert list(sdefs["test"]["properties"]) == list(conditions.OPERATORS)
    assert list(sdefs["countTest"]["properties"]) == [*conditions._CMP, "between"]
    assert list(sdefs["condition"]["properties"]) == list(conditions.COMBINATORS)
    assert set(mdefs["entity"]["properties"]["fields"]["propertyNames"]["not"]["enum"]) == RESERVED_FIELD_NAMES
    assert s["$defs"]["segment"]["properties"]["scope"]["enum"] == [*(x.value for x in Scope), None]
    # segc anchors with \A and \Z (`$` would let a final newline through); ECMA regexes say ^ and $
    def ecma(pattern: str) -> str:
        return pattern.replace("\\A", "^").replace("\\Z", "$")

    assert sdefs["name"]["pattern"] == ecma(NAME_RE.pattern)
    assert mdefs["sqlName"]["pattern"] == ecma(check_model.SQL_NAME_RE.pattern)


def test_keys_match_the_checkers() -> None:
    assert list(SCHEMA[MODEL]["properties"]) == list(check_model._TOP_KEYS)
    assert list(_props(MODEL, "$defs", "target")) == list(check_model._TARGET_KEYS)
    assert list(_props(MODEL, "$defs", "entity")) == list(check_model._ENTITY_KEYS)
    assert list(_props(MODEL, "$defs", "field")) == list(check_model._FIELD_KEYS)
    assert list(_props(MODEL, "$defs", "relation")) == list(check_model._RELATION_KEYS)
    assert list(SCHEMA[SEGMENTS]["properties"]) == ["segments"]
    assert list(_props(SEGMENTS, "$defs", "segment")) == list(check_segments._TOP_KEYS)
    assert list(_props(SEGMENTS, "$defs", "child")) == list(check_segments._CHILD_KEYS)


# ------------------------------------------------------------------------------------------------
# every file segc accepts validates


GOOD_FILES = [(kind, path) for project in [EXAMPLE, *GOOD] for kind, path in project_files(project)]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("kind", "path"), GOOD_FILES, ids=[p.relative_to(ROOT).as_posix() for _, p in GOOD_FILES])
def test_good_file_validates(kind: str, path: Path, loader: str) -> None:
    assert schema_errors(kind, read_text(path), loader) == []


@pytest.mark.parametrize("project", [EXAMPLE, *GOOD], ids=lambda p: p.name)
def test_good_project_is_accepted_by_segc_too(project: Path) -> None:
    """The schema agrees with the checker on these projects: segc loads them without errors."""
    loaded, _warnings = load_project(project, check_lock=False)
    assert loaded.segments


def test_example_files_point_at_the_schemas() -> None:
    for kind, path in project_files(EXAMPLE):
        first = read_text(path).splitlines()[0]
        m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert m, f"{path}: first line is {first!r}"
        target = (path.parent / m.group(1)).resolve()
        assert target == (SCHEMA_DIR / SCHEMAS[kind]).resolve()


def _new_user_files() -> dict[str, str]:
    """The project written from scratch in tests/test_new_user.py (literal text there)."""
    tree = ast.parse((ROOT / "tests" / "test_new_user.py").read_text(encoding="utf-8"))
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in ("SEGC_YML", "COMPANY_YML", "PERSONAL_YML")):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


@pytest.mark.parametrize("loader", LOADERS)
def test_new_user_project_validates(loader: str, tmp_path: Path) -> None:
    files = _new_user_files()
    assert set(files) == {"SEGC_YML", "COMPANY_YML", "PERSONAL_YML"}
    assert schema_errors(MODEL, files["SEGC_YML"], loader) == []
    assert schema_errors(SEGMENTS, files["COMPANY_YML"], loader) == []
    assert schema_errors(SEGMENTS, files["PERSONAL_YML"], loader) == []
    (tmp_path / "segments").mkdir()
    (tmp_path / "segc.yml").write_text(files["SEGC_YML"], encoding="utf-8")
    (tmp_path / "segments" / "company.yml").write_text(files["COMPANY_YML"], encoding="utf-8")
    (tmp_path / "segments" / "personal.yml").write_text(files["PERSONAL_YML"], encoding="utf-8")
    load_project(tmp_path, check_lock=False)


# ------------------------------------------------------------------------------------------------
# hand-written files: what segc accepts, the schema accepts; what is wrong in shape, it rejects

BASE_MODEL = """\
version: 1
entities:
  customer:
    table: crm.customers
    key: customer_id
    owner: owner_id
    fields:
      name:             {type: string}
      rank:             {type: enum, values: [A, B, C, D]}
      created_at:       {type: timestamp}
      next_followup_on: {type: date}
      deal_total:       {type: number}
      is_key_account:   {type: boolean}
      tags:             {type: string_list}
      won_orders:       {aggregate: count, relation: orders, where: {status: won}}
    relations:
      orders: {has_many: order, foreign_key: customer_id}
  order:
    table: crm.orders
    key: order_id
    fields:
      status: {type: enum, values: [open, won, lost]}
      amount: {type: number}
"""

ONE_ENTITY_MODEL = """\
version: 1
entities:
  customer:
    table: crm.customers
    key: customer_id
    fields:
      rank: {type: enum, values: [A, B]}
"""


def seg(where: str, extra: str = "") -> str:
    """A segment file of one customer segment with this `where:` (flow YAML) and extra keys."""
    return f"segments:\n  - id: s\n    entity: customer\n{extra}    where: {where}\n"


def model_with(fields: str = "", relations: str = "", top: str = "", entity: str = "") -> str:
    """A small model: a customer entity with these extra keys, fields and relations (YAML lines)."""
    text = f"version: 1\n{top}entities:\n  customer:\n    table: crm.customers\n    key: customer_id\n"
    text += "".join(f"    {line}\n" for line in entity.splitlines())
    text += "    fields:\n      rank: {type: enum, values: [A, B]}\n"
    text += "".join(f"      {line}\n" for line in fields.splitlines())
    text += "    relations:\n      orders: {has_many: order, foreign_key: customer_id}\n"
    text += "      home: {belongs_to: country, column: country_code}\n"
    text += "".join(f"      {line}\n" for line in relations.splitlines())
    text += ("  order:\n    table: crm.orders\n    key: order_id\n    fields:\n"
             "      amount: {type: number}\n      status: {type: enum, values: [open, won, lost]}\n")
    text += "  country:\n    table: crm.countries\n    key: code\n    fields:\n      region: {type: string}\n"
    return text


# (id, kind, text, model for a segment file): files segc accepts that stress the schema's leniency
VALID = [
    ("model-version-quoted", MODEL, model_with().replace("version: 1", 'version: "1"'), None),
    ("model-null-optional-keys", MODEL,
     model_with(top="timezone: ~\ntarget: {dialect: ~, view_prefix: ~}\n", entity="label: ~"), None),
    ("model-target-everything", MODEL,
     model_with(top="timezone: America/Argentina/Buenos_Aires\n"
                    "target: {dialect: snowflake, schema: analytics.segments, view_prefix: ''}\n"), None),
    ("model-view-prefix-number", MODEL, model_with(top="target: {view_prefix: 2024}\n"), None),
    ("model-three-part-table", MODEL, model_with().replace("crm.customers", "db.crm.customers"), None),
    ("model-yaml-boolean-names", MODEL,
     model_with(fields="yes: {aggregate: count, relation: on}\nno: {type: string, column: off}",
                relations="on: {has_many: order, foreign_key: y}"), None),
    ("model-enum-values-typed-by-yaml", MODEL,
     model_with(fields='flag: {type: enum, values: [yes, no, "NO", 1, 1.5, true, 007, 2024-01-01]}'), None),
    ("model-json-dotted-path", MODEL,
     model_with(fields="tier: {type: enum, values: [A], json: profile, path: profile.tier}\n"
                       "score: {type: number, json: profile, path: ~}\nseen: {type: date, json: profile}"), None),
    ("model-aggregates", MODEL,
     model_with(fields="n: {aggregate: count, relation: orders}\n"
                       "n_of: {aggregate: count, relation: orders, of: amount}\n"
                       "kinds: {aggregate: count_distinct, relation: orders, of: status}\n"
                       "total: {aggregate: sum, relation: orders, of: amount,"
                       " where: {status: won, any: [{amount: {'>': 5}}, {amount: {is_empty: true}}]}}\n"
                       "top: {aggregate: max, relation: orders, of: amount}\n"
                       "low: {aggregate: min, relation: orders, of: status}\n"
                       "mean: {aggregate: avg, relation: orders, of: amount}"), None),
    ("model-lookup-and-descriptions", MODEL,
     model_with(fields="region: {relation: home, of: region, description: Where they are}"), None),
    ("model-relation-names-may-hold-double-underscores", MODEL,
     model_with(relations="home__alias: {belongs_to: country, column: country_code}"), None),
    ("segments-empty-list", SEGMENTS, "segments: []\n", BASE_MODEL),
    ("segment-minimal-one-entity", SEGMENTS, "segments:\n  - id: all_customers\n", ONE_ENTITY_MODEL),
    ("segment-nulls", SEGMENTS,
     "segments:\n  - id: s\n    name: ~\n    description: ~\n    entity: customer\n    scope: ~\n    owner: ~\n",
     BASE_MODEL),
    ("segment-yaml-typed-text", SEGMENTS,
     "segments:\n  - id: 'on'\n    name: 42\n    description: true\n    entity: customer\n    scope: personal\n"
     "    owner: 7\n  - id: yes\n    entity: customer\n    scope: personal\n    owner: ''\n", BASE_MODEL),
    ("segment-mixed-condition-mapping", SEGMENTS,
     seg("{rank: A, deal_total: {'>': 5, '<=': 10}, any: [{tags: {contains_any: [vip]}}, {name: {starts_with: a}}],"
         " not: {is_key_account: true}, has: {orders: {where: {status: won}}}, all: [{rank: {in: [A, B]}}]}"),
     BASE_MODEL),
    ("segment-has-forms", SEGMENTS,
     seg("{all: [{has: {orders: ~}}, {has: {orders: {}}}, {has: {orders: {count: 0}}}, {has: {orders: {count: '2'}}},"
         " {has: {orders: {count: {'>=': 1, '<': 5, '!=': 3}}}}, {has: {orders: {count: {between: [1, 3]}}}},"
         " {has: {orders: {count: {}, where: {amount: {between: [1, 2]}}}}}]}"), BASE_MODEL),
    ("segment-every-operator", SEGMENTS,
     seg("{all: [{name: {'=': x, '!=': y, in: [a, 1], not_in: [b], contains: c, not_contains: 100, starts_with: e,"
         " ends_with: f, is_empty: false}}, {tags: {contains_any: [a], contains_all: [b, c], contains_none: [d]}},"
         " {deal_total: {'>': 1, '>=': '+0.5e1', '<': -3, '<=': 1e3, between: [-5, 1000000], '=': 0, in: [1, 2.5]}},"
         " {created_at: {in_period: this_week, within_last: 30 days, at_least_ago: 1 day, within_next: 2 weeks,"
         " at_least_ahead: 6 months}}, {next_followup_on: {'=': today, '!=': 2024-02-29, '>': today - 3 months,"
         " '<': today+1 year, between: [2024-01-01, today], '>=': ' 2024-03-01 ', '<=': 'today -0 days'}},"
         " {is_key_account: TRUE}, {is_key_account: {is_empty: 'False'}}]}"), BASE_MODEL),
    ("segment-durations", SEGMENTS,
     seg("{all: [{created_at: {within_last: 1 year}}, {created_at: {within_last: '  010 quarters '}},"
         " {created_at: {at_least_ago: 1000000 days}}]}"), BASE_MODEL),
    ("segment-children-and-split", SEGMENTS,
     "segments:\n  - id: vip\n    entity: customer\n    split_by: rank\n    children:\n"
     "      - id: vip_a\n        name: A\n        where: {rank: A}\n        split_by: rank\n"
     "        children: []\n      - id: vip_b\n        description: ~\n", BASE_MODEL),
]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("case", "kind", "text", "model"), VALID, ids=[c[0] for c in VALID])
def test_accepted_by_segc_and_by_the_schema(case: str, kind: str, text: str, model: str | None,
                                            loader: str, tmp_path: Path) -> None:
    if kind == MODEL:
        assert checker_codes(tmp_path, text) == [], "segc rejects this model: fix the case"
    else:
        assert checker_codes(tmp_path, model, text) == [], "segc rejects this file: fix the case"
    assert schema_errors(kind, text, loader) == []


# (id, kind, text, the error code segc reports for it, or None where segc does not report it)
INVALID = [
    # -- segc.yml: top level and target
    ("model-unknown-top-level-key", MODEL, model_with(top="output: views\n"), "E101"),
    ("model-missing-version", MODEL, model_with().replace("version: 1\n", ""), "E102"),
    ("model-version-2", MODEL, model_with().replace("version: 1", "version: 2"), "E103"),
    ("model-missing-entities", MODEL, "version: 1\ntarget: {dialect: duckdb}\n", "E102"),
    ("model-no-entities", MODEL, "version: 1\nentities: {}\n", "E102"),
    ("model-entities-list", MODEL, "version: 1\nentities: [customer]\n", "E100"),
    ("model-top-level-list", MODEL, "- version: 1\n", "E100"),
    ("model-target-list", MODEL, model_with(top="target: [duckdb]\n"), "E100"),
    ("model-target-null", MODEL, model_with(top="target:\n"), "E100"),
    ("model-unknown-dialect", MODEL, model_with(top="target: {dialect: mysql}\n"), "E105"),
    ("model-unknown-target-key", MODEL, model_with(top="target: {prefix: seg_}\n"), "E101"),
    ("model-view-prefix-uppercase", MODEL, model_with(top="target: {view_prefix: Seg_}\n"), "E104"),
    ("model-schema-with-space", MODEL, model_with(top="target: {schema: my schema}\n"), "E104"),
    ("model-schema-four-parts", MODEL, model_with(top="target: {schema: a.b.c.d}\n"), "E104"),
    ("model-timezone-mapping", MODEL, model_with(top="timezone: {name: UTC}\n"), "E100"),
    ("model-timezone-path", MODEL, model_with(top="timezone: ../etc/localtime\n"), "E106"),
    # -- entities
    ("entity-name-uppercase", MODEL, model_with().replace("  customer:", "  Customer:"), "E104"),
    ("entity-name-with-dash", MODEL, model_with().replace("  customer:", "  our-customer:"), "E104"),
    ("entity-scalar", MODEL, "version: 1\nentities:\n  customer: crm.customers\n", "E100"),
    ("entity-missing-table", MODEL, model_with().replace("    table: crm.customers\n", ""), "E102"),
    ("entity-missing-key", MODEL, model_with().replace("    key: customer_id\n", ""), "E102"),
    ("entity-unknown-key", MODEL, model_with(entity="primary_key: id"), "E101"),
    ("entity-table-injection", MODEL, model_with().replace("crm.customers", "'crm.customers; --'"), "E104"),
    ("entity-owner-null", MODEL, model_with(entity="owner:"), "E100"),
    ("entity-label-mapping", MODEL, model_with(entity="label: {en: Customers}"), "E100"),
    ("entity-fields-list", MODEL, "version: 1\nentities:\n  c:\n    table: t\n    key: k\n    fields: [a]\n", "E100"),
    ("entity-relations-null", MODEL, "version: 1\nentities:\n  c:\n    table: t\n    key: k\n    relations:\n", "E100"),
    # -- fields
    ("field-spec-scalar", MODEL, model_with(fields="name: string"), "E100"),
    ("field-unknown-type", MODEL, model_with(fields="name: {type: text}"), "E113"),
    ("field-missing-type", MODEL, model_with(fields="name: {column: full_name}"), "E102"),
    ("field-type-null", MODEL, model_with(fields="name: {type: ~}"), "E100"),
    ("field-unknown-key", MODEL, model_with(fields="name: {type: string, nullable: true}"), "E101"),
    ("field-reserved-name", MODEL, model_with(fields="all: {type: string}"), "E107"),
    ("field-name-uppercase", MODEL, model_with(fields="Name: {type: string}"), "E104"),
    ("field-column-with-quote", MODEL, model_with(fields="name: {type: string, column: 'a\"b'}"), "E104"),
    ("field-column-null", MODEL, model_with(fields="name: {type: string, column: ~}"), "E100"),
    ("enum-without-values", MODEL, model_with(fields="tier: {type: enum}"), "E102"),
    ("enum-values-empty", MODEL, model_with(fields="tier: {type: enum, values: []}"), "E115"),
    ("enum-values-scalar", MODEL, model_with(fields="tier: {type: enum, values: A}"), "E115"),
    ("enum-value-blank", MODEL, model_with(fields="tier: {type: enum, values: [A, ' ']}"), "E115"),
    ("enum-value-null", MODEL, model_with(fields="tier: {type: enum, values: [A, ~]}"), "E100"),
    ("enum-value-list", MODEL, model_with(fields="tier: {type: enum, values: [A, [B]]}"), "E100"),
    ("values-on-a-string", MODEL, model_with(fields="name: {type: string, values: [a]}"), "E112"),
    ("json-and-column", MODEL, model_with(fields="tier: {type: string, json: profile, column: tier}"), "E112"),
    ("json-and-column-null", MODEL, model_with(fields="tier: {type: string, json: profile, column: ~}"), "E112"),
    ("json-path-without-json", MODEL, model_with(fields="tier: {type: string, path: a.b}"), "E112"),
    ("json-path-dollar", MODEL, model_with(fields="tier: {type: string, json: profile, path: $.tier}"), "E114"),
    ("json-path-empty-key", MODEL, model_with(fields="tier: {type: string, json: profile, path: a..b}"), "E114"),
    ("json-string-list", MODEL, model_with(fields="tags: {type: string_list, json: profile}"), "E112"),
    ("of-on-a-column-field", MODEL, model_with(fields="name: {type: string, of: x}"), "E112"),
    ("where-on-a-column-field", MODEL, model_with(fields="name: {type: string, where: {rank: A}}"), "E112"),
    # -- aggregates and lookups
    ("aggregate-unknown-function", MODEL,
     model_with(fields="n: {aggregate: median, relation: orders, of: amount}"), "E118"),
    ("aggregate-null", MODEL, model_with(fields="n: {aggregate: ~, relation: orders}"), "E100"),
    ("aggregate-with-type", MODEL, model_with(fields="n: {aggregate: count, relation: orders, type: number}"), "E112"),
    ("aggregate-sum-without-of", MODEL, model_with(fields="n: {aggregate: sum, relation: orders}"), "E102"),
    ("aggregate-where-list", MODEL,
     model_with(fields="n: {aggregate: count, relation: orders, where: [{status: won}]}"), "E120"),
    ("aggregate-where-unknown-operator", MODEL,
     model_with(fields="n: {aggregate: count, relation: orders, where: {amount: {more_than: 5}}}"), "E127"),
    ("aggregate-without-relation", MODEL, model_with(fields="n: {aggregate: count}"), "E102"),
    ("lookup-without-of", MODEL, model_with(fields="region: {relation: home}"), "E102"),
    ("lookup-with-type", MODEL, model_with(fields="region: {relation: home, of: region, type: string}"), "E112"),
    ("lookup-relation-null", MODEL, model_with(fields="region: {relation: ~, of: region}"), "E100"),
    # -- relations
    ("relation-both-kinds", MODEL,
     model_with(relations="both: {has_many: order, belongs_to: order, foreign_key: customer_id}"), "E109"),
    ("relation-neither-kind", MODEL, model_with(relations="neither: {foreign_key: customer_id}"), "E109"),
    ("relation-has-many-with-column", MODEL,
     model_with(relations="more: {has_many: order, foreign_key: customer_id, column: id}"), "E109"),
    ("relation-has-many-without-foreign-key", MODEL, model_with(relations="more: {has_many: order}"), "E102"),
    ("relation-belongs-to-with-foreign-key", MODEL,
     model_with(relations="land: {belongs_to: country, column: c, foreign_key: c}"), "E109"),
    ("relation-belongs-to-without-column", MODEL, model_with(relations="land: {belongs_to: country}"), "E102"),
    ("relation-unknown-key", MODEL,
     model_with(relations="more: {has_many: order, foreign_key: customer_id, through: x}"), "E101"),
    ("relation-name-with-dash", MODEL, model_with(relations="home-2: {belongs_to: country, column: c}"), "E104"),
    ("relation-target-uppercase", MODEL, model_with(relations="land: {belongs_to: Country, column: c}"), "E104"),
    ("relation-foreign-key-expression", MODEL,
     model_with(relations="more: {has_many: order, foreign_key: customer_id OR 1=1}"), "E104"),
    # -- segment files: structure
    ("segments-empty-file", SEGMENTS, "", "E102"),
    ("segments-only-a-comment", SEGMENTS, "# nothing\n", "E102"),
    ("segments-missing", SEGMENTS, "{}\n", "E102"),
    ("segments-unknown-top-level-key", SEGMENTS, "segments: []\nversion: 1\n", "E101"),
    ("segments-mapping", SEGMENTS, "segments:\n  vip: {entity: customer}\n", "E100"),
    ("segments-null", SEGMENTS, "segments:\n", "E100"),
    ("segment-scalar", SEGMENTS, "segments:\n  - vip\n", "E100"),
    ("segment-missing-id", SEGMENTS, "segments:\n  - name: VIP\n    entity: customer\n", "E102"),
    ("segment-unknown-key", SEGMENTS, seg("{rank: A}", "    title: VIP\n"), "E101"),
    ("segment-id-uppercase", SEGMENTS, "segments:\n  - id: VIP\n    entity: customer\n", "E104"),
    ("segment-id-double-underscore", SEGMENTS, "segments:\n  - id: vip__a\n    entity: customer\n", "E104"),
    ("segment-id-null", SEGMENTS, "segments:\n  - id:\n    entity: customer\n", "E100"),
    ("segment-id-number", SEGMENTS, "segments:\n  - id: 42\n    entity: customer\n", "E104"),
    ("segment-name-mapping", SEGMENTS, seg("{rank: A}", "    name: {en: VIP}\n"), "E100"),
    ("segment-entity-null", SEGMENTS, "segments:\n  - id: s\n    entity:\n", "E100"),
    ("segment-entity-list", SEGMENTS, "segments:\n  - id: s\n    entity: [customer]\n", "E100"),
    ("segment-unknown-scope", SEGMENTS, seg("{rank: A}", "    scope: team\n"), "E144"),
    ("segment-personal-without-owner", SEGMENTS, seg("{rank: A}", "    scope: personal\n"), "E145"),
    ("segment-personal-owner-null", SEGMENTS, seg("{rank: A}", "    scope: personal\n    owner: ~\n"), "E145"),
    ("segment-company-with-owner", SEGMENTS, seg("{rank: A}", "    scope: company\n    owner: tanaka\n"), "E145"),
    ("segment-owner-without-scope", SEGMENTS, seg("{rank: A}", "    owner: tanaka\n"), "E145"),
    ("segment-owner-list", SEGMENTS, seg("{rank: A}", "    scope: personal\n    owner: [tanaka]\n"), "E100"),
    ("segment-split-by-list", SEGMENTS, seg("{rank: A}", "    split_by: [rank]\n"), "E100"),
    ("segment-children-mapping", SEGMENTS, seg("{rank: A}", "    children: {id: c}\n"), "E100"),
    ("child-with-entity", SEGMENTS, seg("{rank: A}", "    children:\n      - {id: c, entity: customer}\n"), "E141"),
    ("child-with-scope", SEGMENTS, seg("{rank: A}", "    children:\n      - {id: c, scope: company}\n"), "E141"),
    ("child-with-owner-null", SEGMENTS, seg("{rank: A}", "    children:\n      - {id: c, owner: ~}\n"), "E141"),
    ("child-scalar", SEGMENTS, seg("{rank: A}", "    children: [c]\n"), "E100"),
    ("child-unknown-key", SEGMENTS, seg("{rank: A}", "    children:\n      - {id: c, filter: {rank: B}}\n"), "E101"),
    # -- conditions
    ("where-list", SEGMENTS, seg("[{rank: A}]"), "E120"),
    ("where-string", SEGMENTS, seg("\"rank = 'A'\""), "E120"),
    ("where-empty-mapping", SEGMENTS, seg("{}"), "E120"),
    ("where-null", SEGMENTS, seg("~"), "E120"),
    ("where-field-name-uppercase", SEGMENTS, seg("{Rank: A}"), "E124"),
    ("all-mapping", SEGMENTS, seg("{all: {rank: A}}"), "E100"),
    ("any-empty", SEGMENTS, seg("{any: []}"), "E120"),
    ("any-item-scalar", SEGMENTS, seg("{any: [rank]}"), "E120"),
    ("not-list", SEGMENTS, seg("{not: [{rank: A}]}"), "E120"),
    ("not-null", SEGMENTS, seg("{not: ~}"), "E120"),
    ("field-test-null", SEGMENTS, seg("{rank: ~}"), "E125"),
    ("field-test-list", SEGMENTS, seg("{rank: [A, B]}"), "E126"),
    ("field-test-empty-mapping", SEGMENTS, seg("{rank: {}}"), "E125"),
    ("unknown-operator", SEGMENTS, seg("{rank: {equals: A}}"), "E127"),
    ("unknown-operator-double-equals", SEGMENTS, seg("{rank: {'==': A}}"), "E127"),
    ("equals-list", SEGMENTS, seg("{rank: {'=': [A, B]}}"), "E126"),
    ("equals-null", SEGMENTS, seg("{rank: {'=': ~}}"), "E100"),
    ("in-scalar", SEGMENTS, seg("{rank: {in: A}}"), "E132"),
    ("in-mapping", SEGMENTS, seg("{rank: {in: {A: 1}}}"), "E132"),
    ("in-empty", SEGMENTS, seg("{rank: {not_in: []}}"), "E132"),
    ("in-item-list", SEGMENTS, seg("{rank: {in: [[A]]}}"), "E100"),
    ("between-three-values", SEGMENTS, seg("{deal_total: {between: [1, 2, 3]}}"), "E132"),
    ("between-scalar", SEGMENTS, seg("{deal_total: {between: 5}}"), "E132"),
    ("between-text", SEGMENTS, seg("{deal_total: {between: [low, high]}}"), "E133"),
    ("greater-than-text", SEGMENTS, seg("{created_at: {'>': soon}}"), "E130"),
    ("greater-than-list", SEGMENTS, seg("{deal_total: {'>': [1]}}"), "E100"),
    ("greater-than-boolean", SEGMENTS, seg("{deal_total: {'>=': true}}"), "E133"),
    ("date-month-13", SEGMENTS, seg("{next_followup_on: {'>': '2024-13-01'}}"), "E130"),
    ("date-unknown-unit", SEGMENTS, seg("{next_followup_on: {'<': today + 2 fortnights}}"), "E130"),
    ("date-uppercase-today", SEGMENTS, seg("{next_followup_on: {'<': Today}}"), "E130"),
    ("unknown-period", SEGMENTS, seg("{created_at: {in_period: last_decade}}"), "E131"),
    ("period-camel-case", SEGMENTS, seg("{created_at: {in_period: thisWeek}}"), "E131"),
    ("within-last-number", SEGMENTS, seg("{created_at: {within_last: 30}}"), "E130"),
    ("within-last-zero", SEGMENTS, seg("{created_at: {within_last: 0 days}}"), "E130"),
    ("within-last-negative", SEGMENTS, seg("{created_at: {within_last: -3 days}}"), "E130"),
    ("within-next-unknown-unit", SEGMENTS, seg("{created_at: {within_next: 3 fortnights}}"), "E130"),
    ("within-next-unit-capitalised", SEGMENTS, seg("{created_at: {within_next: 3 Days}}"), "E130"),
    ("at-least-ago-date", SEGMENTS, seg("{created_at: {at_least_ago: 2024-01-01}}"), "E130"),
    ("at-least-ahead-fraction", SEGMENTS, seg("{created_at: {at_least_ahead: 1.5 days}}"), "E130"),
    ("is-empty-not-boolean", SEGMENTS, seg("{rank: {is_empty: maybe}}"), "E133"),
    ("is-empty-null", SEGMENTS, seg("{rank: {is_empty: ~}}"), "E100"),
    ("contains-empty-text", SEGMENTS, seg("{name: {contains: ''}}"), "E129"),
    ("starts-with-list", SEGMENTS, seg("{name: {starts_with: [a]}}"), "E100"),
    ("contains-any-scalar", SEGMENTS, seg("{tags: {contains_any: vip}}"), "E132"),
    ("contains-all-empty", SEGMENTS, seg("{tags: {contains_all: []}}"), "E132"),
    ("has-null", SEGMENTS, seg("{has: ~}"), "E100"),
    ("has-empty", SEGMENTS, seg("{has: {}}"), "E120"),
    ("has-list", SEGMENTS, seg("{has: [orders]}"), "E100"),
    ("has-relation-scalar", SEGMENTS, seg("{has: {orders: yes}}"), "E100"),
    ("has-unknown-key", SEGMENTS, seg("{has: {orders: {when: {status: won}}}}"), "E101"),
    ("has-where-null", SEGMENTS, seg("{has: {orders: {where: ~}}}"), "E120"),
    ("has-count-null", SEGMENTS, seg("{has: {orders: {count: ~}}}"), "E100"),
    ("has-count-negative", SEGMENTS, seg("{has: {orders: {count: -1}}}"), "E123"),
    ("has-count-fraction", SEGMENTS, seg("{has: {orders: {count: 1.5}}}"), "E123"),
    ("has-count-text", SEGMENTS, seg("{has: {orders: {count: many}}}"), "E123"),
    ("has-count-unknown-operator", SEGMENTS, seg("{has: {orders: {count: {at_least: 2}}}}"), "E122"),
    ("has-count-between-one-value", SEGMENTS, seg("{has: {orders: {count: {between: [1]}}}}"), "E132"),
    ("has-count-list", SEGMENTS, seg("{has: {orders: {count: [1, 2]}}}"), "E100"),
]


@pytest.mark.parametrize(("case", "kind", "text", "code"), INVALID, ids=[c[0] for c in INVALID])
def test_rejected_by_the_schema(case: str, kind: str, text: str, code: str, tmp_path: Path) -> None:
    for loader in LOADERS:
        assert schema_errors(kind, text, loader), f"the schema accepts it ({loader})"
    codes = checker_codes(tmp_path, text) if kind == MODEL else checker_codes(tmp_path, BASE_MODEL, text)
    assert code in codes, f"segc reports {codes}, not {code}: the case tests something else"


def test_loaders_read_yaml_as_editors_do() -> None:
    text = "a: NO\nb: 2024-01-01\non: yes\nd: 007\ne: 0o17\nf: 1e3\ng: ~\nh: True\n"
    assert load_yaml11(text) == {"a": False, "b": "2024-01-01", "true": True, "d": 7, "e": "0o17", "f": "1e3",
                                 "g": None, "h": True}
    assert load_yaml12(text) == {"a": "NO", "b": "2024-01-01", "on": "yes", "d": 7, "e": 15, "f": 1000.0,
                                 "g": None, "h": True}


@pytest.mark.parametrize("loader", LOADERS)
def test_the_cases_start_from_valid_files(loader: str, tmp_path: Path) -> None:
    """Each invalid case changes one thing in these; so they must be valid themselves."""
    for model in (BASE_MODEL, ONE_ENTITY_MODEL, model_with()):
        assert schema_errors(MODEL, model, loader) == []
        assert checker_codes(tmp_path, model) == []
    for where in ("{rank: A}", "{has: {orders: {where: {status: won}, count: {'>=': 1}}}}"):
        for extra in ("", "    scope: personal\n    owner: tanaka\n",
                      "    children:\n      - {id: c, where: {rank: B}}\n"):
            assert schema_errors(SEGMENTS, seg(where, extra), loader) == []
            assert checker_codes(tmp_path, BASE_MODEL, seg(where, extra)) == []


def test_enough_cases() -> None:
    assert len(INVALID) >= 100 and len(VALID) >= 15
    assert len({c[0] for c in INVALID}) == len(INVALID) and len({c[0] for c in VALID}) == len(VALID)


# ------------------------------------------------------------------------------------------------
# mutants of the example project (tests/test_fuzz.py): whatever segc accepts, the schema accepts

MUTANTS = 300


def test_schema_accepts_every_mutant_segc_accepts(tmp_path: Path) -> None:
    from test_fuzz import seeded_mutant  # the fuzzer's derandomised mutants of fixtures/example

    accepted = 0
    for seed in range(MUTANTS):
        mutant = seeded_mutant(seed)
        files = mutant.files()
        project = tmp_path / str(seed)
        (project / "segments").mkdir(parents=True)
        for rel, data in files.items():
            (project / rel).write_bytes(data)
        try:
            load_project(project, check_lock=False)
        except SegcError:
            continue
        accepted += 1
        for rel, data in files.items():
            kind = MODEL if rel == "segc.yml" else SEGMENTS
            for loader in LOADERS:
                try:
                    errors = schema_errors(kind, data.decode("utf-8-sig"), loader)
                except ValueError:  # PyYAML 1.1 cannot build the date 2024-02-30; YAML 1.2 reads text
                    assert loader == "yaml1.1"
                    continue
                assert errors == [], f"seed {seed}, {rel} ({loader}): {errors}\n{mutant.describe(files)}"
    assert accepted >= MUTANTS // 20, f"only {accepted} mutants are valid: the test says little"


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(world=worlds())
def test_schema_accepts_the_property_tests_worlds(world) -> None:
    """tests/properties.py draws models with every field kind and condition trees with every
    operator, has and count: segc accepts them, and so must the schema."""
    segments = "segments:\n" + "".join(f"  - id: c{i}\n    entity: m\n    where: {cond}\n"
                                        for i, cond in enumerate(world.conditions))
    with tempfile.TemporaryDirectory() as tmp:
        assert checker_codes(Path(tmp), world.model, segments) == []
    for loader in LOADERS:
        assert schema_errors(MODEL, world.model, loader) == []
        assert schema_errors(SEGMENTS, segments, loader) == []


# ------------------------------------------------------------------------------------------------
# the structural cases of tests/corpus/bad: the schema rejects the file that holds the error,
# and accepts the case's other files. Excluded: YAML syntax and encoding (01-28: no data to
# validate, or loader-level: tags, merge keys, duplicate keys), and everything that needs the
# model or the whole project: unknown names and relations, enum values, types of aggregated
# fields, cycles, duplicate ids and enum values, split_by slugs, nesting limits, the lock.

BAD_STRUCTURAL = {
    "29-model-scalar-at-top": "E100",
    "30-model-list-at-top": "E100",
    "31-target-list": "E100",
    "32-entities-list": "E100",
    "33-fields-list": "E100",
    "34-field-spec-scalar": "E100",
    "35-enum-values-scalar": "E115",
    "37-enum-value-blank": "E115",
    "38-segments-mapping": "E100",
    "39-segment-file-scalar": "E100",
    "40-segment-item-scalar": "E100",
    "41-segment-name-mapping": "E100",
    "42-where-list": "E120",
    "43-where-string": "E120",
    "44-where-empty-mapping": "E120",
    "45-children-mapping": "E100",
    "46-in-with-mapping": "E132",
    "47-between-three-values": "E132",
    "48-owner-list": "E100",
    "50-time-zone-path-traversal": "E106",  # the shape of a zone name, not whether the zone exists
    "51-unknown-aggregate": "E118",
    "52-unknown-top-level-key": "E101",
    "60-unknown-period": "E131",
    "71-id-with-double-underscore": "E104",
    "72-reserved-field-all": "E107",
    "73-reserved-field-any": "E107",
    "74-reserved-field-not": "E107",
    "75-reserved-field-has": "E107",
    "76-table-injection": "E104",
    "77-table-quoted-identifier": "E104",
    "78-table-comment": "E104",
    "79-table-non-ascii": "E104",
    "80-column-or-1-equals-1": "E104",
    "81-column-newline": "E104",
    "82-column-nul-escape": "E104",
    "83-column-backslash": "E104",
    "84-key-dollar-quotes": "E104",
    "85-owner-column-unicode-quote": "E104",
    "86-foreign-key-expression": "E104",
    "87-json-column-quote": "E104",
    "88-json-path-injection": "E114",
    "89-json-path-dollar": "E114",
    "90-schema-injection": "E104",
    "91-view-prefix-quote": "E104",
    "92-time-zone-injection": "E106",  # likewise
    "93-segment-id-injection": "E104",
    "94-entity-name-injection": "E104",
    "95-field-name-newline": "E104",
}


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("name", "code"), sorted(BAD_STRUCTURAL.items()), ids=sorted(BAD_STRUCTURAL))
def test_structural_bad_corpus_case_is_rejected(name: str, code: str, loader: str) -> None:
    case = BAD / name
    first = load_first_error(case)
    assert first == code, f"segc's first error is {first}, not {code}"
    expected = (case / "expect.txt").read_text(encoding="utf-8").strip()
    wrong = (ROOT / expected.rsplit(":", 2)[0]).resolve()
    for kind, path in project_files(case):
        errors = schema_errors(kind, read_text(path), loader)
        if path.resolve() == wrong:
            assert errors, f"the schema accepts {path.name}"
        else:
            assert errors == [], f"the schema rejects {path.name}, which has nothing wrong"


def load_first_error(case: Path) -> str:
    with pytest.raises(SegcError) as info:
        load_project(case, check_lock=False)
    return info.value.diagnostics[0].code


def test_structural_list_is_explicit() -> None:
    names = {p.name for p in BAD.iterdir() if p.is_dir()}
    assert set(BAD_STRUCTURAL) <= names


# ------------------------------------------------------------------------------------------------
# the patterns against the checkers' own parsers, value by value


def _sub_validator(kind: str, definition: str) -> jsonschema.Draft202012Validator:
    schema = SCHEMA[kind]
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return jsonschema.Draft202012Validator({"$ref": f"{schema['$id']}#/$defs/{definition}"}, registry=registry)


def _parses(parse: Callable[[str], object], text: str) -> bool:
    try:
        parse(text)
    except dates.DateSyntaxError:
        return False
    return True


DURATIONS = ["1 day", "30 days", "2 weeks", "1 week", "6 months", "1 month", "3 quarters", "1 year", "10 years",
             " 7 days ", "007 days", "7\tdays", "1000000 days", "0 days", "00 days", "-1 day", "+1 day", "1.5 days",
             "1 days ago", "1 fortnight", "1 Day", "1 dayss", "1day", "days", "30", "", "today", "1 s"]
ORDERED_VALUES = ["1", "-1", "+2.5", ".5", "5.", "1e3", "1E-3", " 12 ", "2024-01-31", "0001-01-01", "9999-12-31",
                  " 2024-03-01 ", "today", "today - 30 days", "today+1 year", "today -0 days", "  today  ",
                  "today - 2 fortnights", "Today", "tomorrow", "2024-1-1", "2024/01/01", "2024-01-01T00:00",
                  "20240101x", "1,000", "1 000", "abc", "", "e5", "."]
# accepted by the pattern, rejected by segc: calendar validity is beyond a regular expression
LENIENT_DATES = {"2024-02-30", "2023-02-29", "0000-01-01"}


@pytest.mark.parametrize("text", DURATIONS)
def test_duration_pattern_agrees_with_segc(text: str) -> None:
    assert _sub_validator(SEGMENTS, "duration").is_valid(text) == _parses(dates.parse_duration, text)


@pytest.mark.parametrize("text", [*ORDERED_VALUES, *sorted(LENIENT_DATES)])
def test_ordered_value_pattern_agrees_with_segc(text: str) -> None:
    segc_ok = bool(conditions._NUMBER_RE.match(text.strip())) or _parses(dates.parse_date_value, text)
    schema_ok = _sub_validator(SEGMENTS, "orderedValue").is_valid(text)
    assert schema_ok == (segc_ok or text in LENIENT_DATES)
    if text in LENIENT_DATES:
        assert not segc_ok


@pytest.mark.parametrize("text", ["0", "1", "10", "007", "", "-1", "+1", "1.0", "1e3", " 1", "x"])
def test_whole_number_pattern_agrees_with_segc(text: str) -> None:
    assert _sub_validator(SEGMENTS, "wholeNumber").is_valid(text) == text.isdigit()


def test_every_time_zone_segc_knows_fits_the_pattern() -> None:
    pattern = re.compile(SCHEMA[MODEL]["properties"]["timezone"]["pattern"])
    zones = check_model._zones()
    assert zones and all(pattern.search(z) for z in zones), [z for z in zones if not pattern.search(z)]
    assert zones <= zoneinfo.available_timezones()


# ------------------------------------------------------------------------------------------------
# shipped in the package


@pytest.mark.parametrize("kind", SCHEMAS)
def test_schemas_ship_in_the_package(kind: str) -> None:
    resource = importlib.resources.files("segc") / "schemas" / SCHEMAS[kind]
    assert resource.is_file()
    assert json.loads(resource.read_text(encoding="utf-8")) == SCHEMA[kind]


@pytest.mark.parametrize("kind", SCHEMAS)
def test_schema_text(kind: str) -> None:
    text = schema_text(kind)
    assert text == (SCHEMA_DIR / SCHEMAS[kind]).read_text(encoding="utf-8")
    assert json.loads(text)["$id"].endswith(SCHEMAS[kind])


def test_schema_text_unknown_kind() -> None:
    with pytest.raises(ValueError, match="segc.yml, segments"):
        schema_text("segc.lock")


def test_wheel_includes_the_package_data() -> None:
    """Hatchling puts every file of the listed packages in the wheel, minus .gitignore'd ones."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "segc" in wheel["packages"]
    assert not {"only-include", "exclude", "artifacts"} & set(wheel)
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split() if (ROOT / ".gitignore").exists() else []
    assert not [p for p in ignored if "json" in p or "schemas" in p]
