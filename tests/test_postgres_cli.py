"""`--dsn` against a real PostgreSQL 15: the same answers as `--db` on DuckDB, and an `apply`
that is all or nothing."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import engines
from conftest import EXAMPLE, WAREHOUSE
from segc.cli import main
from segc.warehouse import read_tables


@pytest.fixture(scope="module")
def pg(pg_dsn):
    """A fresh database holding the fixture warehouse; its DSN."""
    engine = engines.PostgresEngine(pg_dsn, database="segc_cli_test")
    engine.load(read_tables(WAREHOUSE))
    yield engine
    engine.close()


@pytest.fixture
def project(tmp_path):
    dest = tmp_path / "example"
    shutil.copytree(EXAMPLE, dest)
    return dest


def segc(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def same(args, project, pg, warehouse_file):
    on_pg = segc(*args, "-p", project, "--dsn", pg.dsn)
    on_duck = segc(*args, "-p", project, "--db", warehouse_file)
    assert on_pg.exit_code == 0, on_pg.output
    assert on_duck.exit_code == 0, on_duck.output
    assert on_pg.stdout == on_duck.stdout
    return on_pg.stdout


@pytest.mark.parametrize("extra", [[], ["--owner", "tanaka"], ["--show-empty"], ["--owner", "lee", "--show-empty"]])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_count_matches_duckdb(extra, fmt, project, pg, warehouse_file):
    out = same(["count", "--as-of", "2024-03-13", "--format", fmt, *extra], project, pg, warehouse_file)
    if fmt == "json":
        rows = json.loads(out)
        assert rows and any(r["count"] for r in rows)


@pytest.mark.parametrize("segment", ["vip", "vip_dormant_key_accounts", "a_rank_not_contacted_30d", "never_ordered",
                                     "leads_missing_country", "recent_deal_new_product", "vip__no", "renewal_this_month"])
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_members_match_duckdb(segment, fmt, project, pg, warehouse_file):
    out = same(["members", segment, "--as-of", "2024-03-13", "--format", fmt], project, pg, warehouse_file)
    if fmt == "json":
        keys = json.loads(out)
        assert keys == sorted(keys)


def _views(pg, schema="segments"):
    rows = pg.query(f"SELECT table_name FROM information_schema.views WHERE table_schema = '{schema}' ORDER BY 1")
    return [r[0] for r in rows]


def test_apply_creates_every_view(project, pg, warehouse_file):
    result = segc("apply", "-p", project, "--dsn", pg.dsn, "--as-of", "2024-03-13")
    assert result.exit_code == 0, result.output
    views = _views(pg)
    assert "segment_membership" in views and "segment_counts" in views
    assert "seg_vip_dormant_key_accounts" in views
    # the views answer like `members` on DuckDB
    keys = json.loads(segc("members", "vip_dormant", "-p", project, "--db", warehouse_file,
                           "--as-of", "2024-03-13", "--format", "json").stdout)
    assert [r[0] for r in pg.query('SELECT customer_id FROM segments.seg_vip_dormant ORDER BY 1')] == keys
    got = pg.query("SELECT member_key FROM segments.segment_membership WHERE segment_id = 'vip_dormant'")
    assert sorted(int(r[0]) for r in got) == keys
    counts = pg.query("SELECT member_count FROM segments.segment_counts WHERE segment_id = 'vip_dormant' AND owner IS NULL")
    assert counts == [(len(keys),)]
    # applying again replaces the views (PostgreSQL cannot CREATE OR REPLACE a view whose columns change)
    again = segc("apply", "-p", project, "--dsn", pg.dsn, "--as-of", "2024-03-14")
    assert again.exit_code == 0, again.output


def test_failed_apply_changes_nothing(project, pg, tmp_path):
    pg.execute("CREATE SCHEMA IF NOT EXISTS broken")
    pg.execute("CREATE OR REPLACE VIEW broken.keep_me AS SELECT 1 AS x")
    (project / "segc.yml").write_text(
        (project / "segc.yml").read_text().replace("schema: segments", "schema: broken")
        .replace("table: crm.contacts", "table: crm.no_such_table"))
    before = _views(pg, "broken")
    result = segc("apply", "-p", project, "--dsn", pg.dsn)
    assert result.exit_code == 3
    assert "Traceback" not in result.output and "no_such_table" in result.stderr
    assert _views(pg, "broken") == before == ["keep_me"]
    assert not (project / "segc.lock").exists()


def test_bad_dsn_is_a_database_error(project):
    result = segc("count", "-p", project, "--dsn", "postgresql://nobody:secret@127.0.0.1:1/none")
    assert result.exit_code == 3
    assert "secret" not in result.stderr and "Traceback" not in result.output
