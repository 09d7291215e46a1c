"""Every kind of invalid input, through the real CLI (SPEC 1, 2 and 5).

Each case writes a small project to a temporary folder, runs `segc validate` and
`segc compile --out DIR`, and checks what a user sees:

- exit code 1 (2 for usage errors), raised as a clean exit, never as an uncaught exception;
- a line `FILE:LINE:COL: error: MESSAGE` on stderr, with the position of the offending token;
- a key phrase of the message and the hint where one fits ("did you mean A?", "use in: [A, B]");
- no Python traceback and no "internal error";
- nothing written: no SQL on stdout, no `--out` folder, no `segc.lock` (or the old one unchanged).

The tables give every expected position as (line, column) together with the text found there
(`at`); `test_tables_point_at_their_tokens` checks the tables themselves, so a miscounted column
in a table cannot pass for a segc bug.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from segc.cli import main

# ------------------------------------------------------------------------------------------------
# The project under test

# A small model with one field of every type, an aggregate, a lookup and both kinds of relation.
MODEL = """\
version: 1
target: {dialect: duckdb, schema: segments, view_prefix: seg_}
entities:
  customer:
    label: Customers
    table: crm.customers
    key: customer_id
    owner: owner_id
    fields:
      name: {type: string}
      rank: {type: enum, values: [A, B, C, D]}
      country: {type: enum, column: country_code, values: [US, JP, "NO"]}
      created_at: {type: timestamp}
      next_followup_on: {type: date}
      deal_total: {type: number}
      is_key_account: {type: boolean}
      tags: {type: string_list}
      won_orders: {aggregate: count, relation: orders, where: {status: won}}
      region: {relation: home_country, of: region}
    relations:
      orders: {has_many: order, foreign_key: customer_id}
      home_country: {belongs_to: country, column: country_code}
  order:
    table: crm.orders
    key: order_id
    fields:
      status: {type: enum, values: [open, won, lost]}
      amount: {type: number}
  country:
    table: crm.countries
    key: code
    fields:
      region: {type: enum, values: [east_asia, europe]}
"""

# A valid segment file for tests whose problem lies elsewhere.
VALID_SEGMENTS = """\
segments:
  - id: vip
    name: VIP
    entity: customer
    where: {rank: {in: [A, B]}}
"""

SEG_FILE = "proj/segments/x.yml"
MODEL_FILE = "proj/segc.yml"


@dataclass
class Diag:
    file: str
    line: int
    col: int
    severity: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message} (hint: {self.hint})"


_DIAG_RE = re.compile(r"^(?P<file>\S[^:]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<msg>.*)$")


def diagnostics(stderr: str) -> list[Diag]:
    """The `FILE:LINE:COL: error: MESSAGE` lines of stderr, each with its `  hint:` line."""
    out: list[Diag] = []
    for line in stderr.splitlines():
        if m := _DIAG_RE.match(line):
            out.append(Diag(m["file"], int(m["line"]), int(m["col"]), m["sev"], m["msg"]))
        elif line.startswith("  hint: ") and out:
            out[-1].hint = line[len("  hint: "):]
    return out


def errors_of(result: Result) -> list[Diag]:
    return [d for d in diagnostics(result.stderr) if d.severity == "error"]


@dataclass
class Project:
    """A project folder `proj` below the working folder, and the CLI run on it."""

    root: Path
    runner: CliRunner = field(default_factory=CliRunner)

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def run(self, *args: str) -> Result:
        return self.runner.invoke(main, [*args, "-p", "proj"])

    @property
    def lock(self) -> Path:
        return self.root / "segc.lock"

    @property
    def out_dir(self) -> Path:
        return self.root.parent / "build"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    # Paths in messages are relative to the working folder: run from the folder holding `proj`.
    monkeypatch.chdir(tmp_path)
    proj = Project(tmp_path / "proj")
    proj.write("segc.yml", MODEL)
    (proj.root / "segments").mkdir()
    return proj


def assert_clean_exit(result: Result, code: int) -> None:
    """Exit `code` through sys.exit, with no traceback and no internal error."""
    text = result.output + (result.stderr or "")
    assert "Traceback" not in text, text
    assert "internal error" not in text, text
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, text


def assert_reported(result: Result, file: str, line: int, col: int, phrase: str,
                    hint: str | None = None, n_errors: int | None = 1) -> Diag:
    """exit 1, and an error at FILE:LINE:COL whose message holds `phrase`.

    `hint`: None = not checked, "" = some hint must be given, else text the hint must contain.
    `n_errors`: how many errors the run reports in all (None = not checked); one mistake should
    give one error, not a cascade.
    """
    assert_clean_exit(result, 1)
    prefix = f"{file}:{line}:{col}: error: "
    assert re.search(rf"^{re.escape(prefix)}", result.stderr, re.M), (
        f"no line starting with {prefix!r} in stderr:\n{result.stderr}")
    errors = errors_of(result)
    here = [d for d in errors if (d.file, d.line, d.col) == (file, line, col) and phrase in d.message]
    assert here, f"no error at {file}:{line}:{col} containing {phrase!r}:\n{result.stderr}"
    diag = here[0]
    if hint is not None:
        assert diag.hint is not None and hint in diag.hint, f"hint {hint!r} missing in: {diag}"
    if n_errors is not None:
        assert len(errors) == n_errors, "expected {} error(s), got:\n{}".format(
            n_errors, "\n".join(map(str, errors)))
    return diag


def assert_rejected(proj: Project, file: str, line: int, col: int, phrase: str,
                    hint: str | None = None, n_errors: int | None = 1) -> Diag:
    """validate and compile --out both refuse the project the same way and write nothing."""
    lock_before = proj.lock.read_bytes() if proj.lock.exists() else None

    result = proj.run("validate")
    diag = assert_reported(result, file, line, col, phrase, hint, n_errors)
    assert result.stdout == ""

    result = proj.run("compile", "--out", str(proj.out_dir))
    assert_reported(result, file, line, col, phrase, hint, n_errors)
    assert result.stdout == "", "compile printed SQL for an invalid project"
    assert "nothing was written" in result.stderr
    assert not proj.out_dir.exists(), "--out folder was created for an invalid project"

    result = proj.run("compile")
    assert_clean_exit(result, 1)
    assert result.stdout == "", "compile printed SQL for an invalid project"

    if lock_before is None:
        assert not proj.lock.exists(), "segc.lock was written for an invalid project"
    else:
        assert proj.lock.read_bytes() == lock_before, "segc.lock changed for an invalid project"
    return diag


def text_at(text: str, line: int, col: int) -> str:
    return text.splitlines()[line - 1][col - 1:]


# ------------------------------------------------------------------------------------------------
# Conditions: one `where:` on line 4 of segments/x.yml. Column = 12 + offset inside the condition.


def seg_where(cond: str) -> str:
    return f"segments:\n  - id: s\n    entity: customer\n    where: {cond}\n"


@dataclass(frozen=True)
class C:
    """A condition case: `cond` goes after `where: ` on line 4; the error is at (4, col)."""

    id: str
    cond: str
    col: int
    at: str
    phrase: str
    hint: str | None = None
    n_errors: int | None = 1

    @property
    def yaml(self) -> str:
        return seg_where(self.cond)


CONDITION_CASES = [
    # enum values
    C("enum-typo", "{rank: Aa}", 19, "Aa", "'Aa' is not a value of 'rank'", "did you mean A?"),
    C("enum-case", "{rank: a}", 19, "a", "'a' is not a value of 'rank'", "did you mean A?"),
    C("enum-undeclared", "{rank: Z}", 19, "Z", "'Z' is not a value of 'rank'", "A, B, C, D"),
    C("enum-undeclared-in-list", "{rank: {in: [A, Zz]}}", 28, "Zz", "'Zz' is not a value of 'rank'",
      "A, B, C, D"),
    C("enum-lookup-typo", "{region: europa}", 21, "europa", "'europa' is not a value of 'region'",
      "did you mean europe?"),
    # values of the wrong type
    C("number-abc", "{deal_total: abc}", 25, "abc", "'deal_total' is a number; 'abc' is not"),
    C("number-abc-in-operator", '{deal_total: {">=": abc}}', 32, "abc", "'abc' is not"),
    C("number-between-bad-bound", "{deal_total: {between: [1, x]}}", 39, "x", "'x' is not"),
    C("boolean-maybe", "{is_key_account: maybe}", 29, "maybe", "true or false, not 'maybe'"),
    C("is-empty-maybe", "{name: {is_empty: maybe}}", 30, "maybe", "true or false, not 'maybe'"),
    C("date-month-13", "{next_followup_on: 2022-13-45}", 31, "2022-13-45", "'2022-13-45' is not a calendar date"),
    C("date-feb-30-in-operator", '{next_followup_on: {">=": 2022-02-30}}', 38, "2022-02-30",
      "'2022-02-30' is not a calendar date"),
    C("date-word", "{next_followup_on: someday}", 31, "someday", "'someday' is not a date", "YYYY-MM-DD"),
    C("timestamp-bad-unit", "{created_at: {\"<\": today - 3 dayz}}", 31, "today", "unknown unit 'dayz'",
      "day, week, month, quarter or year"),
    # operators
    C("contains-on-number", "{deal_total: {contains: 5}}", 26, "contains",
      "operator 'contains' does not apply to number field 'deal_total'", "number fields take: "),
    C("within_last-on-string", "{name: {within_last: 30 days}}", 20, "within_last",
      "operator 'within_last' does not apply to string field 'name'", "string fields take: "),
    C("in_period-on-enum", "{rank: {in_period: this_week}}", 20, "in_period",
      "operator 'in_period' does not apply to enum field 'rank'", "enum fields take: "),
    C("greater-on-boolean", '{is_key_account: {">": 1}}', 30, '">"',
      "operator '>' does not apply to boolean field 'is_key_account'", "boolean fields take: "),
    C("unknown-operator", "{deal_total: {beetween: [1, 5]}}", 26, "beetween", "unknown operator 'beetween'",
      "did you mean between?"),
    C("unknown-operator-no-match", "{rank: {zzz: A}}", 20, "zzz", "unknown operator 'zzz'",
      "enum fields take: "),
    C("string_list-scalar", "{tags: vip}", 19, "vip", "string_list", "contains_any: [vip]"),
    # lists and scalars in the wrong place
    C("eq-with-list", '{rank: {"=": [A, B]}}', 25, "[A, B]", "'=' takes one value, not a list", "use in: [A, B]"),
    C("ne-with-list", '{rank: {"!=": [A, B]}}', 26, "[A, B]", "'!=' takes one value, not a list",
      "use not_in: [A, B]"),
    C("bare-list", "{rank: [A, B]}", 19, "[A, B]", "'rank' is compared with a list", "use in: [A, B]"),
    C("in-with-scalar", "{rank: {in: A}}", 24, "A}", "'in' takes a list, not a single value", "in: [A]"),
    C("not_in-with-scalar", "{deal_total: {not_in: 5}}", 34, "5", "'not_in' takes a list", "not_in: [5]"),
    C("between-one-value", "{deal_total: {between: 5}}", 35, "5", "between takes a list of two values",
      "between: [low, high]"),
    C("date-eq-op-list", '{next_followup_on: {"=": [2022-01-01, 2022-01-02]}}', 37, "[2022-01-01",
      "takes one date, not a list", "between: [first day, last day]"),
    # The shorthand `field: [..]` is `=` with a list: it deserves the same hint.
    C("date-bare-list", "{next_followup_on: [2022-01-01, 2022-01-02]}", 31, "[2022-01-01",
      "'next_followup_on' is compared with a list", "between: [first day, last day]"),
    # durations and periods
    C("duration-dayz", "{created_at: {within_last: 30 dayz}}", 39, "30 dayz", "unknown unit 'dayz'",
      "day, week, month, quarter or year"),
    C("duration-negative", "{created_at: {within_last: -3 days}}", 39, "-3 days", "'-3 days' is not a duration",
      "positive whole number"),
    C("duration-zero", "{created_at: {within_last: 0 days}}", 39, "0 days", "a duration must be positive"),
    C("duration-word", "{created_at: {within_last: soon}}", 39, "soon", "'soon' is not a duration",
      "e.g. 30 days"),
    C("duration-fraction", "{created_at: {at_least_ago: 1.5 days}}", 40, "1.5 days", "is not a duration"),
    C("period-unknown", "{created_at: {in_period: this_fortnight}}", 37, "this_fortnight",
      "unknown period 'this_fortnight'", ""),
    C("period-typo", "{next_followup_on: {in_period: this_quater}}", 43, "this_quater",
      "unknown period 'this_quater'", "did you mean this_quarter?"),
    # names in conditions
    C("unknown-field", "{rnak: A}", 13, "rnak", "'customer' has no field 'rnak'", "did you mean rank?"),
    C("unknown-relation-in-has", "{has: {ordrs: {}}}", 19, "ordrs", "'customer' has no relation 'ordrs'",
      "did you mean orders?"),
    C("has-on-belongs_to", "{has: {home_country: {}}}", 19, "home_country",
      "has needs a has_many relation; 'home_country' is belongs_to"),
    C("unknown-field-in-has-where", "{has: {orders: {where: {staus: won}}}}", 36, "staus",
      "'order' has no field 'staus'", "did you mean status?"),
    C("unknown-key-in-has", "{has: {orders: {wher: {status: won}}}}", 28, "wher", "unknown field 'wher'",
      "did you mean where?"),
    C("has-count-not-number", "{has: {orders: {count: many}}}", 35, "many", "a count must be a whole number"),
    C("not-with-list", "{not: [{rank: A}]}", 18, "[{rank", "not takes one condition, not a list"),
    C("any-with-mapping", "{any: {rank: A}}", 18, "{rank", "'any' must be a list"),
    C("field-without-value", "{rank: }", 13, "rank", "'rank' needs a value or a test", "is_empty: true"),
]


@pytest.mark.parametrize("case", CONDITION_CASES, ids=lambda c: c.id)
def test_condition_errors(project: Project, case: C) -> None:
    project.write("segments/x.yml", case.yaml)
    assert_rejected(project, SEG_FILE, 4, case.col, case.phrase, case.hint, case.n_errors)


# ------------------------------------------------------------------------------------------------
# Segment files: whole files, the error at (line, col).


@dataclass(frozen=True)
class F:
    id: str
    yaml: str
    line: int
    col: int
    at: str
    phrase: str
    hint: str | None = None
    n_errors: int | None = 1


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


SEGMENT_CASES = [
    # YAML syntax
    F("yaml-unclosed-bracket", y("""
        segments:
          - id: s
            entity: customer
            where: {rank: [A, B}
        """), 4, 24, "}", "YAML syntax error"),
    # Unclosed at the end of the file: point at the opening bracket or quote, not past the last line.
    F("yaml-unclosed-bracket-at-eof", y("""
        segments:
          - id: s
            entity: customer
            where: {rank: [A, B
        """), 4, 19, "[A", "YAML syntax error"),
    F("yaml-unclosed-quote", y("""
        segments:
          - id: s
            name: "VIP
            entity: customer
        """), 3, 11, '"VIP', "YAML syntax error"),
    # A user who indents one key wrongly should be told so, not about '<block mapping start>'.
    F("yaml-bad-indentation", y("""
        segments:
          - id: s
            entity: customer
           where: {rank: A}
        """), 4, 4, "where", "YAML syntax error", "indent"),
    F("yaml-tab-indentation", "segments:\n  - id: s\n\tentity: customer\n", 3, 1, "\t", "YAML syntax error", "tab"),
    F("yaml-duplicate-key", y("""
        segments:
          - id: s
            entity: customer
            where: {rank: A}
            where: {rank: B}
        """), 5, 5, "where", "duplicate key 'where'", "first given at line 4, column 5"),
    F("yaml-duplicate-key-in-condition", y("""
        segments:
          - id: s
            entity: customer
            where: {rank: A, rank: B}
        """), 4, 22, "rank: B", "duplicate key 'rank'", "first given at line 4, column 13"),
    # file shape
    F("top-level-list", y("""
        - id: s
          entity: customer
        """), 1, 1, "- id", "must be a mapping, not a list"),
    F("segments-not-a-list", "segments: {id: s}\n", 1, 11, "{id", "segments must be a list"),
    # unknown fields
    F("unknown-field-wher", y("""
        segments:
          - id: s
            entity: customer
            wher: {rank: A}
        """), 4, 5, "wher", "unknown field 'wher'", "did you mean where?"),
    F("unknown-field-in-child", y("""
        segments:
          - id: s
            entity: customer
            children:
              - id: c
                nmae: C
        """), 6, 9, "nmae", "unknown field 'nmae'", "did you mean name?"),
    F("unknown-top-level-key", y("""
        segments:
          - id: s
            entity: customer
        segment: []
        """), 4, 1, "segment:", "unknown field 'segment'", "did you mean segments?"),
    # names and ids
    F("id-uppercase", y("""
        segments:
          - id: VIP
            entity: customer
        """), 2, 9, "VIP", "segment id 'VIP' is not a valid name", "lowercase"),
    F("id-leading-digit", y("""
        segments:
          - id: 9lives
            entity: customer
        """), 2, 9, "9lives", "segment id '9lives' is not a valid name", "lowercase"),
    F("id-with-dash", y("""
        segments:
          - id: top-vip
            entity: customer
        """), 2, 9, "top-vip", "segment id 'top-vip' is not a valid name", "lowercase"),
    F("id-with-double-underscore", y("""
        segments:
          - id: vip__us
            entity: customer
        """), 2, 9, "vip__us", "segment id 'vip__us' contains '__'", "split_by"),
    F("id-missing", y("""
        segments:
          - name: No id
            entity: customer
        """), 2, 5, "name", "segment has no 'id'"),
    F("duplicate-id-same-file", y("""
        segments:
          - id: vip
            entity: customer
          - id: vip
            entity: customer
        """), 4, 9, "vip", "duplicate segment id 'vip'", "first defined at proj/segments/x.yml:2:9"),
    F("duplicate-id-parent-and-child", y("""
        segments:
          - id: vip
            entity: customer
            children:
              - id: vip
        """), 5, 13, "vip", "duplicate segment id 'vip'", "first defined at proj/segments/x.yml:2:9"),
    # One repeated parent id is one mistake: its split_by children must not add five more errors.
    F("duplicate-id-with-split_by", y("""
        segments:
          - id: vip
            entity: customer
            split_by: rank
          - id: vip
            entity: customer
            split_by: rank
        """), 5, 9, "vip", "duplicate segment id 'vip'", "first defined at proj/segments/x.yml:2:9"),
    # entity, scope and owner
    F("unknown-entity", y("""
        segments:
          - id: s
            entity: custmer
        """), 3, 13, "custmer", "unknown entity 'custmer'", "did you mean customer?"),
    F("missing-entity", y("""
        segments:
          - id: s
            where: {rank: A}
        """), 2, 5, "id", "segment has no 'entity'", "customer"),
    F("personal-without-owner", y("""
        segments:
          - id: s
            entity: customer
            scope: personal
        """), 2, 5, "id", "a personal segment needs an 'owner'", "owner:"),
    F("company-with-owner", y("""
        segments:
          - id: s
            entity: customer
            scope: company
            owner: tanaka
        """), 5, 12, "tanaka", "a company segment has no owner", "remove owner, or set scope: personal"),
    F("default-scope-with-owner", y("""
        segments:
          - id: s
            entity: customer
            owner: tanaka
        """), 4, 12, "tanaka", "a company segment has no owner", "set scope: personal"),
    F("unknown-scope", y("""
        segments:
          - id: s
            entity: customer
            scope: persnal
            owner: tanaka
        """), 4, 12, "persnal", "unknown scope 'persnal'", "did you mean personal?"),
    # children inherit entity, scope and owner: one clear error each, not two
    F("child-sets-entity", y("""
        segments:
          - id: s
            entity: customer
            children:
              - id: c
                entity: customer
        """), 6, 9, "entity", "a child segment inherits 'entity' from its parent", "remove 'entity'"),
    F("child-sets-scope", y("""
        segments:
          - id: s
            entity: customer
            children:
              - id: c
                scope: company
        """), 6, 9, "scope", "a child segment inherits 'scope' from its parent", "remove 'scope'"),
    F("child-sets-owner", y("""
        segments:
          - id: s
            entity: customer
            scope: personal
            owner: tanaka
            children:
              - id: c
                owner: suzuki
        """), 8, 9, "owner", "a child segment inherits 'owner' from its parent", "remove 'owner'"),
    # split_by
    F("split_by-number", y("""
        segments:
          - id: s
            entity: customer
            split_by: deal_total
        """), 4, 15, "deal_total", "split_by needs an enum field; 'deal_total' is number"),
    F("split_by-string", y("""
        segments:
          - id: s
            entity: customer
            split_by: name
        """), 4, 15, "name", "split_by needs an enum field; 'name' is string"),
    F("split_by-unknown-field", y("""
        segments:
          - id: s
            entity: customer
            split_by: rnak
        """), 4, 15, "rnak", "'customer' has no field 'rnak'", "did you mean rank?"),
    F("split_by-in-child-on-number", y("""
        segments:
          - id: s
            entity: customer
            children:
              - id: c
                split_by: won_orders
        """), 6, 19, "won_orders", "split_by needs an enum field; 'won_orders' is number"),
]


@pytest.mark.parametrize("case", SEGMENT_CASES, ids=lambda c: c.id)
def test_segment_file_errors(project: Project, case: F) -> None:
    project.write("segments/x.yml", case.yaml)
    assert_rejected(project, SEG_FILE, case.line, case.col, case.phrase, case.hint, case.n_errors)


# ------------------------------------------------------------------------------------------------
# segc.yml: small models, each wrong in one place.

SMALL_MODEL = y("""
    version: 1
    entities:
      customer:
        table: crm.customers
        key: customer_id
        fields:
          name: {type: string}
    """)

MODEL_CASES = [
    F("yaml-unclosed-bracket", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            fields:
              rank: {type: enum, values: [A, B}
        """), 7, 39, "}", "YAML syntax error"),
    F("yaml-bad-indentation", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
           key: customer_id
        """), 5, 4, "key", "YAML syntax error", "indent"),
    F("yaml-duplicate-key", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            key: id
            fields:
              name: {type: string}
        """), 6, 5, "key: id", "duplicate key 'key'", "first given at line 5, column 5"),
    F("yaml-duplicate-entity", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
          customer:
            table: crm.customers
            key: customer_id
        """), 6, 3, "customer", "duplicate key 'customer'", "first given at line 3, column 3"),
    F("unknown-top-level-field", y("""
        version: 1
        timezon: UTC
        entities:
          customer:
            table: crm.customers
            key: customer_id
        """), 2, 1, "timezon", "unknown field 'timezon' in segc.yml", "did you mean timezone?"),
    F("unknown-target-field", y("""
        version: 1
        target: {dialect: duckdb, shcema: segments}
        entities:
          customer:
            table: crm.customers
            key: customer_id
        """), 2, 27, "shcema", "unknown field 'shcema'", "did you mean schema?"),
    F("unknown-entity-field", y("""
        version: 1
        entities:
          customer:
            lable: Customers
            table: crm.customers
            key: customer_id
        """), 4, 5, "lable", "unknown field 'lable' in entity 'customer'", "did you mean label?"),
    F("unknown-field-spec-key", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            fields:
              name: {type: string, colum: full_name}
        """), 7, 28, "colum", "unknown field 'colum' in field 'name'", "did you mean column?"),
    F("unknown-relation-key", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            relations:
              orders: {has_many: order, foreign_kye: customer_id}
          order:
            table: crm.orders
            key: order_id
        """), 7, 33, "foreign_kye", "unknown field 'foreign_kye'", "did you mean foreign_key?", None),
    F("unknown-type", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            fields:
              name: {type: strng}
        """), 7, 20, "strng", "unknown field type 'strng'", "did you mean string?"),
    F("unknown-dialect", y("""
        version: 1
        target: {dialect: duckbd}
        entities:
          customer:
            table: crm.customers
            key: customer_id
        """), 2, 19, "duckbd", "unknown dialect 'duckbd'", "did you mean duckdb?"),
    F("unknown-timezone", y("""
        version: 1
        timezone: Asia/Tokio
        entities:
          customer:
            table: crm.customers
            key: customer_id
        """), 2, 11, "Asia/Tokio", "unknown time zone 'Asia/Tokio'", "did you mean Asia/Tokyo?"),
    F("unsupported-version", y("""
        version: 2
        entities:
          customer:
            table: crm.customers
            key: customer_id
        """), 1, 10, "2", "unsupported version", "version: 1"),
    F("entity-name-with-dash", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
          sales-rep:
            table: crm.reps
            key: rep_id
        """), 6, 3, "sales-rep", "entity name 'sales-rep' is not a valid name", "lowercase"),
    F("field-name-uppercase", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            fields:
              Name: {type: string}
        """), 7, 7, "Name", "field name 'Name' is not a valid name", "lowercase"),
    F("table-not-sql-name", y("""
        version: 1
        entities:
          customer:
            table: crm.customers; drop table x
            key: customer_id
        """), 4, 12, "crm.customers;", "is not a valid SQL name"),
    F("enum-without-values", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            fields:
              rank: {type: enum}
        """), 7, 13, "{type", "enum field 'rank' has no 'values'", "values: ["),
    F("relation-to-unknown-entity", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            relations:
              orders: {has_many: ordr, foreign_key: customer_id}
        """), 7, 26, "ordr", "unknown entity 'ordr'"),
    F("aggregate-unknown-field-in-where", y("""
        version: 1
        entities:
          customer:
            table: crm.customers
            key: customer_id
            fields:
              won: {aggregate: count, relation: orders, where: {staus: won}}
            relations:
              orders: {has_many: order, foreign_key: customer_id}
          order:
            table: crm.orders
            key: order_id
            fields:
              status: {type: enum, values: [open, won]}
        """), 7, 57, "staus", "'order' has no field 'staus'", "did you mean status?"),
]

RESERVED_CASES = [
    F(f"reserved-{word}", SMALL_MODEL + f"      {word}: {{type: string}}\n", 8, 7, word,
      f"'{word}' is reserved and cannot name a field")
    for word in ("all", "any", "not", "has")
]


@pytest.mark.parametrize("case", MODEL_CASES + RESERVED_CASES, ids=lambda c: c.id)
def test_model_errors(project: Project, case: F) -> None:
    project.write("segc.yml", case.yaml)
    project.write("segments/x.yml", "segments:\n  - id: s\n    entity: customer\n")
    assert_rejected(project, MODEL_FILE, case.line, case.col, case.phrase, case.hint, case.n_errors)


def test_tables_point_at_their_tokens() -> None:
    """Guards the tables above: each expected position holds the text the case says it does."""
    for c in CONDITION_CASES:
        assert text_at(c.yaml, 4, c.col).startswith(c.at), (c.id, text_at(c.yaml, 4, c.col))
    for c in SEGMENT_CASES + MODEL_CASES + RESERVED_CASES:
        assert text_at(c.yaml, c.line, c.col).startswith(c.at), (c.id, text_at(c.yaml, c.line, c.col))


# ------------------------------------------------------------------------------------------------
# Files that are not YAML mappings at all


def test_invalid_utf8(project: Project) -> None:
    project.write("segments/x.yml", b"segments:\n  - id: s\n    name: caf\xe9\n    entity: customer\n")
    assert_rejected(project, SEG_FILE, 3, 14, "not valid UTF-8", "0xe9")


def test_invalid_utf8_in_model(project: Project) -> None:
    project.write("segc.yml", SMALL_MODEL.encode().replace(b"name:", b"n\xffme:"))
    project.write("segments/x.yml", VALID_SEGMENTS)
    assert_rejected(project, MODEL_FILE, 7, 8, "not valid UTF-8", "0xff")


@pytest.mark.parametrize("content", ["", "\n", "# nothing yet\n"], ids=["empty", "newline", "comment-only"])
def test_empty_segment_file(project: Project, content: str) -> None:
    project.write("segments/x.yml", content)
    assert_rejected(project, SEG_FILE, 1, 1, "segment file is empty", "segments:")


def test_empty_model(project: Project) -> None:
    project.write("segc.yml", "")
    project.write("segments/x.yml", VALID_SEGMENTS)
    diag = assert_rejected(project, MODEL_FILE, 1, 1, "")
    assert "empty" in diag.message or "must be a mapping" in diag.message, diag


def test_missing_model(project: Project) -> None:
    (project.root / "segc.yml").unlink()
    project.write("segments/x.yml", VALID_SEGMENTS)
    assert_rejected(project, MODEL_FILE, 1, 1, "no segc.yml", "--project")


# ------------------------------------------------------------------------------------------------
# Ids across files and ids made by split_by


def test_duplicate_id_across_files(project: Project) -> None:
    project.write("segments/a.yml", "segments:\n  - id: vip\n    entity: customer\n")
    project.write("segments/b.yml", "# the same id again\nsegments:\n  - id: vip\n    entity: customer\n")
    assert_rejected(project, "proj/segments/b.yml", 3, 9, "duplicate segment id 'vip'",
                    "first defined at proj/segments/a.yml:2:9")


def test_duplicate_split_parent_across_files(project: Project) -> None:
    """Two parents with one id, both split: one error (the id), not one per generated child."""
    seg = "segments:\n  - id: vip\n    entity: customer\n    split_by: rank\n"
    project.write("segments/a.yml", seg)
    project.write("segments/b.yml", seg)
    assert_rejected(project, "proj/segments/b.yml", 2, 9, "duplicate segment id 'vip'",
                    "first defined at proj/segments/a.yml:2:9")


SLUG_MODEL = MODEL.replace(
    "      tags: {type: string_list}\n",
    "      tags: {type: string_list}\n"
    "      tier: {type: enum, values: [Gold plus, gold_plus, silver]}\n"
    "      stage: {type: enum, values: [new, Empty]}\n"
    "      flag: {type: enum, values: [\"+\", \"-\"]}\n")


@pytest.mark.parametrize("field_name, phrase", [
    ("tier", "values 'Gold plus' and 'gold_plus' of 'tier' both give the id s__gold_plus"),
    ("stage", "s__empty"),
    ("flag", "gives no id for split_by"),
], ids=["two-values-one-slug", "value-named-empty", "value-without-slug"])
def test_split_by_generated_id_collisions(project: Project, field_name: str, phrase: str) -> None:
    project.write("segc.yml", SLUG_MODEL)
    project.write("segments/x.yml", f"segments:\n  - id: s\n    entity: customer\n    split_by: {field_name}\n")
    assert_rejected(project, SEG_FILE, 4, 15, phrase)


# ------------------------------------------------------------------------------------------------
# segc.lock (R7)


def test_lock_conflict_names_both_scopes(project: Project) -> None:
    project.write("segments/x.yml", VALID_SEGMENTS)
    first = project.run("compile")
    assert first.exit_code == 0, first.output
    assert project.lock.is_file(), "compile did not write segc.lock"

    project.write("segments/x.yml", VALID_SEGMENTS.replace(
        "    entity: customer\n", "    entity: customer\n    scope: personal\n    owner: tanaka\n"))
    diag = assert_reported(project.run("validate"), SEG_FILE, 2, 9, "segment 'vip' is locked as company")
    assert "personal" in diag.message and "tanaka" in diag.message, diag
    assert "segc.lock" in diag.message, diag
    assert diag.hint, "a lock conflict should say what to do"
    # compile refuses too, and leaves the lock as it was
    assert_rejected(project, SEG_FILE, 2, 9, "is locked as company")


def test_lock_conflict_owner_change(project: Project) -> None:
    personal = VALID_SEGMENTS.replace(
        "    entity: customer\n", "    entity: customer\n    scope: personal\n    owner: tanaka\n")
    project.write("segments/x.yml", personal)
    assert project.run("compile").exit_code == 0
    project.write("segments/x.yml", personal.replace("owner: tanaka", "owner: suzuki"))
    diag = assert_reported(project.run("validate"), SEG_FILE, 2, 9, "segment 'vip' is locked as personal")
    assert "tanaka" in diag.message and "suzuki" in diag.message, diag


# ------------------------------------------------------------------------------------------------
# Collect-all: every problem of a run, sorted by file and position


def test_all_problems_reported_sorted(project: Project) -> None:
    # split_by is checked after the children, so this order of discovery is not the order of lines.
    project.write("segments/a.yml", y("""
        segments:
          - id: s
            entity: customer
            split_by: deal_total
            children:
              - id: c
                where: {rank: Aa}
          - id: Bad
            entity: customer
            wher: {rank: A}
          - id: t
            entity: customer
            where:
              deal_total: abc
              is_key_account: maybe
        """))
    project.write("segments/b.yml", "segments:\n  - id: u\n    entity: custmer\n")
    expected = [
        ("proj/segments/a.yml", 4, 15, "split_by needs an enum field"),
        ("proj/segments/a.yml", 7, 23, "'Aa' is not a value of 'rank'"),
        ("proj/segments/a.yml", 8, 9, "segment id 'Bad' is not a valid name"),
        ("proj/segments/a.yml", 10, 5, "unknown field 'wher'"),
        ("proj/segments/a.yml", 14, 19, "'deal_total' is a number"),
        ("proj/segments/a.yml", 15, 23, "true or false"),
        ("proj/segments/b.yml", 3, 13, "unknown entity 'custmer'"),
    ]
    for args in (("validate",), ("compile", "--out", str(project.out_dir))):
        result = project.run(*args)
        assert_clean_exit(result, 1)
        got = [(d.file, d.line, d.col, d.message) for d in errors_of(result)]
        assert [g[:3] for g in got] == [e[:3] for e in expected], result.stderr
        for g, e in zip(got, expected):
            assert e[3] in g[3], (g, e)
        assert "7 errors" in result.stderr
    assert not project.out_dir.exists()
    assert not project.lock.exists()


def test_model_problems_all_reported(project: Project) -> None:
    project.write("segc.yml", y("""
        version: 1
        timezon: UTC
        entities:
          customer:
            lable: Customers
            table: crm.customers
            key: customer_id
            fields:
              any: {type: string}
              rank: {type: enm, values: [A]}
        """))
    project.write("segments/x.yml", VALID_SEGMENTS)
    result = project.run("validate")
    assert_clean_exit(result, 1)
    got = [(d.line, d.col) for d in errors_of(result) if d.file == MODEL_FILE]
    assert got == [(2, 1), (5, 5), (9, 7), (10, 20)], result.stderr


# ------------------------------------------------------------------------------------------------
# Usage errors: exit code 2


@pytest.mark.parametrize("value", ["2024-02-30", "yesterday", "13/03/2024", "2024-3-1x", ""])
@pytest.mark.parametrize("command", [["compile"], ["explain", "vip"], ["count", "--db", "x.duckdb"]],
                         ids=["compile", "explain", "count"])
def test_bad_as_of_is_usage_error(project: Project, command: list[str], value: str) -> None:
    project.write("segments/x.yml", VALID_SEGMENTS)
    out = project.out_dir
    args = [*command, "--as-of", value]
    if command == ["compile"]:
        args += ["--out", str(out)]
    result = project.run(*args)
    assert_clean_exit(result, 2)
    assert "--as-of" in result.stderr, result.stderr
    assert "YYYY-MM-DD" in result.stderr, result.stderr
    assert result.stdout == ""
    assert not out.exists()
    assert not project.lock.exists()
    assert not (project.root.parent / "x.duckdb").exists()


@pytest.mark.parametrize("command", ["members", "explain"])
def test_unknown_segment_id_is_usage_error(project: Project, command: str) -> None:
    project.write("segments/x.yml", VALID_SEGMENTS)
    db = project.root.parent / "nothing.duckdb"
    extra = ["--db", str(db)] if command == "members" else []
    result = project.run(command, "vpi", *extra)
    assert_clean_exit(result, 2)
    assert "no segment 'vpi'" in result.stderr, result.stderr
    assert "did you mean vip?" in result.stderr, result.stderr
    assert result.stdout == ""
    assert not db.exists(), f"{command} created the database file"

    result = project.run(command, "nosuch", *extra)
    assert_clean_exit(result, 2)
    assert "no segment 'nosuch'" in result.stderr, result.stderr
    assert "did you mean" not in result.stderr
    assert not db.exists()


def test_unknown_segment_in_invalid_project_reports_the_project(project: Project) -> None:
    """An invalid project is exit 1 with its positions, even for members/explain of a bad id."""
    project.write("segments/x.yml", seg_where("{rank: Aa}"))
    result = project.run("explain", "nosuch")
    assert_reported(result, SEG_FILE, 4, 19, "'Aa' is not a value of 'rank'", "did you mean A?")


def test_unknown_dialect_option_is_usage_error(project: Project) -> None:
    project.write("segments/x.yml", VALID_SEGMENTS)
    result = project.run("compile", "--dialect", "duckbd", "--out", str(project.out_dir))
    assert_clean_exit(result, 2)
    assert "duckbd" in result.stderr
    assert not project.out_dir.exists()
    assert not project.lock.exists()


def test_valid_project_passes(project: Project) -> None:
    """The baseline every error case departs from is itself valid (so the errors are the cases')."""
    project.write("segments/x.yml", VALID_SEGMENTS + (
        "  - id: s\n"
        "    entity: customer\n"
        "    where: {rank: A, country: NO, deal_total: {\">=\": 007}, is_key_account: true,\n"
        "            next_followup_on: {within_next: 7 days}, created_at: {in_period: this_quarter},\n"
        "            tags: {contains_any: [x]}, has: {orders: {where: {status: won}}}}\n"
        "    split_by: rank\n"))
    result = project.run("validate")
    assert result.exit_code == 0, result.output
    assert errors_of(result) == []
    result = project.run("compile", "--out", str(project.out_dir))
    assert result.exit_code == 0, result.output
    assert project.out_dir.is_dir() and project.lock.is_file()
