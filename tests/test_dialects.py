"""Every dialect's output parses back with sqlglot: `segc compile --dialect D` on the example
project and on a project of a new user's, and the statements `apply` runs. Calendar meaning that
depends on session settings is kept out by construction (checked here in the text; the member
and sweep tests prove the meaning on the executed engines)."""

from __future__ import annotations

import re
import textwrap

import pytest
import sqlglot
from click.testing import CliRunner

from conftest import EXAMPLE
from segc.cli import main
from segc.compiler import load_project
from segc.dialects import NAMES, get_dialect
from segc.engines.run import apply_statements

OWN_MODEL = """\
version: 1
target: {schema: marts.audiences, view_prefix: aud_}
timezone: Europe/Berlin
entities:
  account:
    table: app.accounts
    key: AccountId
    owner: csm
    fields:
      plan:       {type: enum, values: [free, team, "ON", enterprise]}
      seats:      {type: number}
      trial_ends: {type: date}
      signed_up:  {type: timestamp}
      features:   {type: string_list}
      nps:        {type: number, json: survey, path: latest.score}
      industry:   {relation: company, of: sector}
      logins_30d: {aggregate: count, relation: sessions, where: {started_at: {within_last: 30 days}}}
      last_login: {aggregate: max, relation: sessions, of: started_at}
    relations:
      sessions: {has_many: session, foreign_key: AccountId}
      company:  {belongs_to: company, column: company_id}
  session:
    table: app.sessions
    key: id
    fields:
      started_at: {type: timestamp}
      device:     {type: enum, values: [web, ios, android]}
  company:
    table: app.companies
    key: id
    fields:
      sector: {type: string}
"""
OWN_SEGMENTS = """\
segments:
  - id: trials_ending
    name: Trials ending within 2 weeks
    entity: account
    where: {trial_ends: {within_next: 2 weeks}, plan: {in: [free, "ON"]}}
    split_by: plan
  - id: quiet_paying
    name: Paying, no login for a quarter
    entity: account
    where:
      plan: {not_in: [free]}
      not: {has: {sessions: {where: {started_at: {within_last: 1 quarter}, device: {in: [web, ios]}}}}}
    children:
      - id: quiet_detractors
        where: {nps: {"<=": 6}, features: {contains_none: [sso]}}
  - id: new_this_year
    entity: account
    where:
      any:
        - signed_up: {in_period: this_year}
        - industry: {starts_with: "Bio%"}
        - features: {contains_all: [sso, audit_log]}
      last_login: {is_empty: false}
"""


@pytest.fixture
def own_project(tmp_path):
    (tmp_path / "segments").mkdir()
    (tmp_path / "segc.yml").write_text(OWN_MODEL)
    (tmp_path / "segments" / "accounts.yml").write_text(OWN_SEGMENTS)
    return tmp_path


def _statements(sql: str, dialect: str) -> list[sqlglot.exp.Expression]:
    return [s for s in sqlglot.parse(sql, read=get_dialect(dialect).sqlglot_dialect) if s is not None]


@pytest.mark.parametrize("dialect", NAMES)
@pytest.mark.parametrize("which", ["example", "own"])
def test_compile_parses_back(dialect, which, own_project, tmp_path_factory):
    src = EXAMPLE if which == "example" else own_project
    if which == "example":  # compile writes segc.lock: work on a copy
        import shutil

        src = tmp_path_factory.mktemp("ex") / "example"
        shutil.copytree(EXAMPLE, src)
    for as_of in ([], ["--as-of", "2024-02-29"]):
        result = CliRunner().invoke(main, ["compile", "-p", str(src), "--dialect", dialect, *as_of])
        assert result.exit_code == 0, result.output
        statements = _statements(result.stdout, dialect)
        project, _ = load_project(src)
        assert len(statements) == len(project.segments) + 2
        assert all(isinstance(s, sqlglot.exp.Create) for s in statements)


@pytest.mark.parametrize("dialect", NAMES)
def test_apply_statements_parse_back(dialect, own_project):
    project, _ = load_project(own_project)
    d = get_dialect(dialect)
    for sql in apply_statements(project, d):
        parsed = sqlglot.parse_one(sql, read=d.sqlglot_dialect)
        assert parsed.sql(dialect=d.sqlglot_dialect), sql
        if isinstance(parsed, sqlglot.exp.Drop):
            assert parsed.args.get("tables"), sql


def _compiled(project_dir, dialect) -> str:
    result = CliRunner().invoke(main, ["compile", "-p", str(project_dir), "--dialect", dialect])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_snowflake_ignores_session_week_start_and_timezone(own_project):
    sql = _compiled(own_project, "snowflake")
    assert not re.search(r"DATE_TRUNC\('WEEK'", sql, re.I)
    assert "CURRENT_DATE" not in sql.upper()  # today comes from CONVERT_TIMEZONE(zone, CURRENT_TIMESTAMP())
    assert "CONVERT_TIMEZONE('Europe/Berlin', CURRENT_TIMESTAMP())" in sql
    assert "@>" not in sql  # sqlglot's contains-all operator is not Snowflake SQL


def test_bigquery_weeks_start_on_monday(tmp_path):
    (tmp_path / "segments").mkdir()
    (tmp_path / "segc.yml").write_text(OWN_MODEL)
    (tmp_path / "segments" / "w.yml").write_text(textwrap.dedent("""\
        segments:
          - id: this_week
            entity: account
            where: {trial_ends: {in_period: this_week}}
        """))
    sql = _compiled(tmp_path, "bigquery")
    assert "ISOWEEK" in sql and not re.search(r"\bWEEK\)", sql)


@pytest.mark.parametrize("dialect", ["spark", "databricks", "trino", "snowflake", "bigquery"])
def test_no_postgres_array_operators_where_they_do_not_exist(dialect, own_project):
    sql = _compiled(own_project, dialect)
    assert "&&" not in sql and "@>" not in sql


def test_mixed_case_names_are_quoted_exactly(own_project):
    pg = _compiled(own_project, "postgres")
    assert '"AccountId"' in pg
    sf = _compiled(own_project, "snowflake")
    assert '"AccountId"' in sf and '"ACCOUNTS"' in sf  # lower-case names are stored upper-case


@pytest.mark.parametrize("dialect", NAMES)
def test_lean_generator_prints_what_sqlglot_prints(dialect, tmp_path):
    """segc skips sqlglot's per-SELECT rewrites for speed; they must have had nothing to do."""
    import shutil

    from segc.compiler import Emitter, view_files

    shutil.copytree(EXAMPLE, tmp_path / "ex")
    project, _ = load_project(tmp_path / "ex")
    d = get_dialect(dialect)
    for f in view_files(project, Emitter(project, d)):
        standard = f.statement.sql(dialect=d.sqlglot_dialect, pretty=True, unsupported_level=sqlglot.ErrorLevel.RAISE)
        assert d.sql(f.statement) == standard, f.name
