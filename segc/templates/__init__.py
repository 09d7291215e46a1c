"""The segment template library (R6): ready-made segments with typed, defaulted parameters.

Each template is one file, `library/<name>.yml.j2`. It opens with a Jinja comment whose body is
YAML metadata, then the segment itself as a Jinja template of one YAML mapping (every segment key
but `id`, which `segc new` adds):

    {#-
    description: Customers with no won deal for a while, or never (R20)
    parameters:
      entity:     {type: entity, default: customer, help: the entity whose rows are members}
      deal_field: {type: field, default: last_deal_at, field_types: [date, timestamp], help: ...}
      within:     {type: duration, default: 90 days, help: how long without a won deal}
    -#}
    name: {{ "No won deal for " ~ within }}
    entity: {{ entity }}
    where:
      any:
        - {{ deal_field }}: {at_least_ago: {{ within }}}
        - {{ deal_field }}: {is_empty: true}

Metadata keys: `description` (one line) and `parameters`, in the order they are shown. Every
template has a parameter `entity` (type entity) naming the entity it targets. A parameter has
`type`, `default` and `help`, plus, depending on the type:

    type         a value is                                          extra keys
    int          a whole number (30)                                  min
    number       a decimal number (10000, 0.5)                        min
    string       any non-blank text (A)                               value_of
    string_list  comma-separated texts (vip,newsletter)               value_of
    boolean      true or false (also yes/no)
    date         YYYY-MM-DD, today, or today - 30 days (SPEC 3.2)
    duration     N unit, e.g. 30 days, 6 months (SPEC 3.2)
    choice       one of `choices`                                    choices (required)
    entity       an entity of the model
    relation     a has_many relation of the entity
    field        a field of the entity, or of the relation `of` names  field_types, of, optional

`value_of: P` names a field parameter: the value must then be one of that field's declared values
when it is an enum. `optional: true` lets a field parameter be set to nothing (`--set KEY=`), which
the template tests with `{% if KEY %}`. Defaults are written as they would be given to `--set`,
and metadata is read without YAML's type guesses (`NO` stays the text NO).

Rendering is safe: every `{{ ... }}` value is emitted as one YAML scalar (a plain word when that
reads back as the same text, otherwise a double-quoted string with escapes; lists as flow lists
of scalars), so no value can add YAML structure. Values must therefore fill a whole scalar: build
texts inside the expression (`{{ rank ~ "-rank customers" }}`), never inside quotes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from segc.compiler import dates
from segc.compiler.ir import FieldType, Model, RelationKind
from segc.compiler.util import NAME_RE, suggest
from segc.errors import Diagnostic, Pos, SegcError

LIBRARY = Path(__file__).resolve().parent / "library"
SUFFIX = ".yml.j2"
SEGMENT_KEYS = ("name", "description", "entity", "scope", "owner", "where", "split_by", "children")

TYPES = ("int", "number", "string", "string_list", "boolean", "date", "duration", "choice",
         "entity", "relation", "field")
_PARAM_KEYS = ("type", "default", "help", "min", "choices", "value_of", "field_types", "of", "optional")
_META = re.compile(r"\A\{#-?(.*?)-?#\}", re.S)

SET_POS = Pos("--set", 0, 0)  # command-line options: messages name the option, not a line
TEMPLATE_POS = Pos("--template", 0, 0)


class ParamError(ValueError):
    """A value that does not fit its parameter's type; `hint` says what would."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


# ---------------------------------------------------------------------------------------------
# Templates and their parameters


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str
    default: Any  # the coerced value (None only for an optional field set to nothing)
    default_text: str  # as written in the metadata, i.e. as one would give it to --set
    help: str
    minimum: Decimal | None = None
    choices: tuple[str, ...] = ()
    value_of: str | None = None
    field_types: tuple[FieldType, ...] = ()
    of: str | None = None
    optional: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default_text,
                               "help": self.help}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["min"] = int(self.minimum) if self.minimum == self.minimum.to_integral() else str(self.minimum)
        if self.field_types:
            out["field_types"] = [t.value for t in self.field_types]
        if self.of:
            out["of"] = self.of
        if self.value_of:
            out["value_of"] = self.value_of
        if self.optional:
            out["optional"] = True
        return out

    def describe_type(self) -> str:
        if self.type == "field":
            kinds = "/".join(t.value for t in self.field_types)
            where = f" of {self.of}" if self.of else ""
            return f"field{where}" + (f" ({kinds})" if kinds else "") + (", optional" if self.optional else "")
        if self.minimum is not None:
            return f"{self.type} >= {self.minimum}"
        return self.type


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    description: str
    params: tuple[Param, ...]
    source: str = field(repr=False)
    path: Path = field(repr=False)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    @property
    def entity(self) -> str:
        return self.defaults["entity"]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "entity": self.entity,
                "parameters": [p.as_json() for p in self.params]}


def _broken(path: Path, message: str) -> SegcError:
    """A template in the library that is itself wrong (a bug in segc, caught by the tests)."""
    return SegcError([Diagnostic("E169", Pos(str(path)), f"template library: {message}")])


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def parse_template(path: Path) -> Template:
    source = path.read_text(encoding="utf-8")
    name = path.name.removesuffix(SUFFIX)
    m = _META.match(source)
    if not NAME_RE.match(name):
        raise _broken(path, f"template name '{name}' is not a valid name")
    if not m:
        raise _broken(path, "the file must open with a {# ... #} comment holding its metadata")
    try:
        meta = yaml.load(m.group(1), Loader=yaml.BaseLoader)  # every scalar stays text
    except yaml.YAMLError as exc:
        raise _broken(path, f"metadata is not YAML: {exc}") from None
    if not isinstance(meta, dict) or set(meta) - {"description", "parameters"} or "description" not in meta:
        raise _broken(path, "metadata needs description and parameters, nothing else")
    raw_params = meta.get("parameters") or {}
    if not isinstance(raw_params, dict):
        raise _broken(path, "parameters must be a mapping")
    params = []
    for pname, spec in raw_params.items():
        if not isinstance(spec, dict):
            raise _broken(path, f"parameter '{pname}' must be a mapping")
        unknown, missing = set(spec) - set(_PARAM_KEYS), {"type", "default", "help"} - set(spec)
        if unknown or missing:
            raise _broken(path, f"parameter '{pname}': unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        if not NAME_RE.match(pname) or spec["type"] not in TYPES:
            raise _broken(path, f"parameter '{pname}': bad name or type '{spec['type']}'")
        try:
            param = Param(
                pname, spec["type"], None, _text(spec["default"]), spec["help"],
                minimum=Decimal(spec["min"]) if "min" in spec else None,
                choices=tuple(spec.get("choices", ())),
                value_of=spec.get("value_of"),
                field_types=tuple(FieldType(t) for t in spec.get("field_types", ())),
                of=spec.get("of"),
                optional=spec.get("optional", "false") == "true",
            )
            param = _with_default(param)
        except (ParamError, ValueError, TypeError, InvalidOperation) as exc:
            raise _broken(path, f"parameter '{pname}': {exc}") from None
        if param.type == "choice" and not param.choices:
            raise _broken(path, f"parameter '{pname}' is a choice without choices")
        params.append(param)
    names = {p.name: p for p in params}
    entity = names.get("entity")
    if entity is None or entity.type != "entity":
        raise _broken(path, "every template has a parameter 'entity' of type entity")
    for p in params:
        for ref, want in ((p.of, "relation"), (p.value_of, "field")):
            if ref is not None and (ref not in names or names[ref].type != want):
                raise _broken(path, f"parameter '{p.name}' refers to '{ref}', which is no {want} parameter")
    return Template(name, meta["description"], tuple(params), source, path)


def _with_default(param: Param) -> Param:
    return dataclasses.replace(param, default=coerce(param, param.default_text))


@functools.lru_cache(maxsize=1)
def _library() -> tuple[Template, ...]:
    return tuple(parse_template(p) for p in sorted(LIBRARY.glob("*" + SUFFIX)))


def templates() -> tuple[Template, ...]:
    """Every template of the library, sorted by name."""
    return _library()


def get_template(name: str) -> Template:
    for t in templates():
        if t.name == name:
            return t
    names = [t.name for t in templates()]
    raise SegcError([Diagnostic("E160", TEMPLATE_POS, f"no template '{name}'",
                                suggest(name, names) or "segc templates list shows them all")])


# ---------------------------------------------------------------------------------------------
# Values: --set KEY=VALUE text -> typed Python values

_INT = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def coerce(param: Param, text: str) -> Any:
    """The value of `text` for this parameter's type; raises ParamError saying what is wrong."""
    t = param.type
    value = text.strip()
    if not value:
        if param.optional:
            return None
        raise ParamError(f"'{param.name}' needs a value", f"e.g. {param.name}={param.default_text}")
    if t == "int":
        if not _INT.fullmatch(value):
            raise ParamError(f"'{param.name}' is a whole number, not '{text}'", f"e.g. {param.name}={param.default_text}")
        n = int(value)
        _at_least(param, Decimal(n))
        return n
    if t == "number":
        if not _NUMBER.fullmatch(value):
            raise ParamError(f"'{param.name}' is a number, not '{text}'", f"e.g. {param.name}={param.default_text}")
        d = Decimal(value)
        _at_least(param, d)
        return d
    if t == "string":
        return value
    if t == "string_list":
        items = [v.strip() for v in value.split(",") if v.strip()]
        if not items:
            raise ParamError(f"'{param.name}' needs at least one value", "separate values with commas: a,b")
        return items
    if t == "boolean":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ParamError(f"'{param.name}' is true or false, not '{text}'")
    if t == "date":
        try:
            dates.parse_date_value(value)
        except dates.DateSyntaxError as exc:
            raise ParamError(f"'{param.name}': {exc}", exc.hint) from None
        return " ".join(value.split())
    if t == "duration":
        try:
            dates.parse_duration(value)
        except dates.DateSyntaxError as exc:
            hint = f"write {value} days" if _INT.fullmatch(value) else exc.hint
            raise ParamError(f"'{param.name}': {exc}", hint) from None
        return " ".join(value.split())
    if t == "choice":
        if value not in param.choices:
            raise ParamError(f"'{value}' is not a choice of '{param.name}'",
                             suggest(value, param.choices) or f"one of: {', '.join(param.choices)}")
        return value
    if t in ("entity", "relation", "field"):
        if not NAME_RE.match(value):
            raise ParamError(f"'{param.name}' names {'an' if t == 'entity' else 'a'} {t}; '{text}' is not a name",
                             "names are lowercase letters, digits and _")
        return value
    raise AssertionError(f"parameter type without a handler: {t}")  # pragma: no cover


def _at_least(param: Param, n: Decimal) -> None:
    if param.minimum is not None and n < param.minimum:
        raise ParamError(f"'{param.name}' must be at least {param.minimum}, not {n}")


def parse_settings(template: Template, settings: Iterable[str]) -> tuple[dict[str, Any], set[str]]:
    """`--set KEY=VALUE` texts -> every parameter's value (defaults filled in), and the names given.

    Raises SegcError with one diagnostic per problem."""
    values = template.defaults
    given: set[str] = set()
    problems: list[Diagnostic] = []
    names = [p.name for p in template.params]
    for item in settings:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq:
            problems.append(Diagnostic("E161", SET_POS, f"--set '{item}' has no '='",
                                       f"write --set KEY=VALUE; parameters of {template.name}: {', '.join(names)}"))
            continue
        param = template.param(key)
        if param is None:
            problems.append(Diagnostic("E162", SET_POS, f"template '{template.name}' has no parameter '{key}'",
                                       suggest(key, names) or f"its parameters: {', '.join(names)}"))
            continue
        if key in given:
            problems.append(Diagnostic("E161", SET_POS, f"parameter '{key}' is set twice", "give it once"))
            continue
        given.add(key)
        try:
            values[key] = coerce(param, text)
        except ParamError as exc:
            problems.append(Diagnostic("E163", SET_POS, str(exc), exc.hint))
    if problems:
        raise SegcError(problems)
    return values, given


def check_against_model(template: Template, values: Mapping[str, Any], model: Model, given: set[str]) -> None:
    """Entity, relation and field parameters must name what the model has; raise SegcError if not."""
    problems: list[Diagnostic] = []

    def fail(p: Param, message: str, hint: str | None) -> None:
        if p.name in given:
            problems.append(Diagnostic("E164", SET_POS, message, hint))
        else:
            more = f"set it with --set {p.name}=..."
            if hint:
                more = hint + (" " if hint.endswith("?") else "; ") + more
            problems.append(Diagnostic("E164", TEMPLATE_POS,
                                       f"{message} (the default of parameter '{p.name}' of template '{template.name}')", more))

    entities = {e.name: e for e in model.entities}
    ent_param = template.param("entity")
    assert ent_param is not None
    entity = entities.get(values["entity"])
    if entity is None:
        fail(ent_param, f"the model has no entity '{values['entity']}'",
             suggest(values["entity"], entities) or f"entities: {', '.join(entities)}")
        raise SegcError(problems)  # fields and relations cannot be judged without it
    targets: dict[str, Any] = {}
    for p in template.params:
        if p.type != "relation":
            continue
        rels = {r.name: r for r in entity.relations if r.kind is RelationKind.HAS_MANY}
        rel = rels.get(values[p.name])
        if rel is None:
            fail(p, f"'{entity.name}' has no has_many relation '{values[p.name]}'",
                 suggest(values[p.name], rels) or (f"its has_many relations: {', '.join(rels)}" if rels else None))
        else:
            targets[p.name] = entities[rel.target]
    for p in template.params:
        if p.type != "field" or values[p.name] is None:
            continue
        owner = targets.get(p.of) if p.of else entity
        if owner is None:
            continue  # its relation is already reported
        fields = {f.name: f for f in owner.fields}
        f = fields.get(values[p.name])
        fitting = [n for n, x in fields.items() if not p.field_types or x.type in p.field_types]
        kinds = " or ".join(t.value for t in p.field_types)
        if f is None:
            fail(p, f"'{owner.name}' has no field '{values[p.name]}'",
                 suggest(values[p.name], fitting) or suggest(values[p.name], fields)
                 or (f"{kinds} fields of '{owner.name}': {', '.join(fitting)}" if fitting else None))
        elif p.field_types and f.type not in p.field_types:
            fail(p, f"parameter '{p.name}' takes a {kinds} field; '{f.name}' of '{owner.name}' is {f.type.value}",
                 f"{kinds} fields of '{owner.name}': {', '.join(fitting)}" if fitting else None)
    for p in template.params:
        if p.value_of is None or values[p.value_of] is None:
            continue
        ref = template.param(p.value_of)
        assert ref is not None
        owner = targets.get(ref.of) if ref.of else entity
        f = next((x for x in owner.fields if x.name == values[p.value_of]), None) if owner else None
        if f is None or f.type is not FieldType.ENUM:
            continue  # not an enum (or already reported): the segment check judges the value
        value = values[p.name]
        for v in value if isinstance(value, list) else [value]:
            if v not in f.values:
                fail(p, f"'{v}' is not a value of '{f.name}'", suggest(v, f.values) or f"values: {', '.join(f.values)}")
    if problems:
        raise SegcError(problems)


# ---------------------------------------------------------------------------------------------
# Rendering

_PLAIN = re.compile(r"[\w][\w ()+./'-]*[\w)+.']|\w", re.UNICODE)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar: JSON's escapes, plus escapes for every unprintable character
    JSON leaves raw (U+2028, U+0085, ... would otherwise break or fold the line)."""
    out = []
    for c in json.dumps(text, ensure_ascii=False):
        if c.isprintable() or c == " ":
            out.append(c)
        else:
            cp = ord(c)
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
    return "".join(out)


def yaml_scalar(value: Any) -> str:
    """One value as one YAML scalar (or a flow list of scalars); never more structure.

    Used as the Jinja environment's `finalize`, so it sees every `{{ ... }}` result."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and yaml.safe_load(value) == value:
            return value
        return _quoted(value)
    raise TypeError(f"a template value must be text, a number, a boolean or a list, not {type(value).__name__}")


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(LIBRARY)), undefined=jinja2.StrictUndefined,
        finalize=yaml_scalar, autoescape=False, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)


def render_body(template: Template, values: Mapping[str, Any]) -> str:
    """The segment mapping (without id) as YAML text."""
    text = _environment().get_template(template.path.name).render(**values)
    text = "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _broken(template.path, f"renders to invalid YAML: {exc}") from None
    if not isinstance(body, dict) or not set(body) <= set(SEGMENT_KEYS):
        raise _broken(template.path, f"must render one segment mapping with keys from {', '.join(SEGMENT_KEYS)}")
    return text


def render_item(template: Template, values: Mapping[str, Any], segment_id: str, indent: str = "") -> str:
    """The segment as an item of a `segments:` list: `- id: ...` then the body, at `indent`."""
    body = render_body(template, values)
    lines = [f"{indent}# from template {template.name}", f"{indent}- id: {yaml_scalar(segment_id)}"]
    lines += [f"{indent}  {line}" if line else "" for line in body.splitlines()]
    return "\n".join(lines) + "\n"


def segment_mapping(template: Template, values: Mapping[str, Any], segment_id: str) -> dict[str, Any]:
    """The rendered segment as plain data (as a YAML reader sees it)."""
    return yaml.safe_load(render_item(template, values, segment_id))[0]


def example_command(template: Template, segment_id: str | None = None) -> str:
    """A `segc new` command line using the template, showing its first parameters."""
    parts = ["segc", "new", segment_id or template.name, "--template", template.name]
    values = [p for p in template.params if p.type not in ("entity", "relation", "field")]
    shown = (values or [p for p in template.params if p.name != "entity"])[:2]
    for p in shown:
        parts += ["--set", f"{p.name}={p.default_text}"]
    return " ".join(shlex.quote(p) for p in parts)


# ---------------------------------------------------------------------------------------------
# Text for the command line


def list_table(items: Iterable[Template]) -> str:
    rows = [("TEMPLATE", "ENTITY", "DESCRIPTION")] + [(t.name, t.entity, t.description) for t in items]
    w0, w1 = (max(len(r[i]) for r in rows) for i in range(2))
    return "".join(f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() + "\n" for a, b, c in rows)


def show_text(template: Template, values: Mapping[str, Any] | None = None) -> str:
    values = dict(values or template.defaults)
    rows = [(p.name, p.describe_type(), p.default_text if p.default_text else "(none)",
             p.help + (f" (one of: {', '.join(p.choices)})" if p.choices else "")) for p in template.params]
    head = ("PARAMETER", "TYPE", "DEFAULT", "HELP")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    out = [f"{template.name}: {template.description}", "", "parameters:"]
    for r in [head, *rows]:
        out.append("  " + "  ".join(f"{c:<{w}}" for c, w in zip(r, widths)) + "  " + r[3])
    out += ["", "example:", "  " + example_command(template), "", "segment (with these values):"]
    out.append(render_item(template, values, template.name).rstrip("\n"))
    return "\n".join(line.rstrip() for line in out) + "\n"


__all__ = [
    "LIBRARY", "Param", "ParamError", "Template", "check_against_model", "coerce", "example_command",
    "get_template", "list_table", "parse_settings", "parse_template", "render_body", "render_item",
    "segment_mapping", "show_text", "templates", "yaml_scalar",
]
