"""`segc dbt`: the folder a dbt project vendors.

The main test builds it with a real `dbt build` (dbt-core and dbt-duckdb) over the fixture
warehouse and compares every model's members with `segc members`, and segment_membership and
segment_counts with the views `segc apply` creates. The others check the files themselves: every
dialect parses once the Jinja is rendered, output is deterministic, and no user text can act as Jinja.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import jinja2
import pytest
import sqlglot
from click.testing import CliRunner

from segc.cli import main
from segc.compiler import load_project
from segc.dbt import dbt_files, jinja_escape
from segc.dialects import NAMES, get_dialect
from segc.engines.duckdb import DuckDBEngine
from segc.engines.run import apply_views, member_keys
from tests.conftest import EXAMPLE, REF_DAY

# Values that would be Jinja if segc pasted them into a model or a YAML file unescaped.
JINJA_SEGMENTS = """\
segments:
  - id: jinja_text
    name: "{{ 7 * 7 }} and {% raw %} and {# no comment #}"
    description: "{{ exceptions.raise_compiler_error('escaped?') }}"
    entity: customer
    where:
      any:
        - name: {contains: "{{ 7*7 }}"}
        - name: {contains: "{%"}
        - industry: "{# not a comment #}"
        - rank: A
"""


def _project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "segments" / "zz_jinja.yml").write_text(JINJA_SEGMENTS, encoding="utf-8")
    return project


def _dbt_project(root: Path, warehouse: Path) -> Path:
    """A scratch dbt project, as the README tells a new user to write one."""
    root.mkdir()
    (root / "dbt_project.yml").write_text(
        "name: crm_analytics\nversion: '1.0.0'\nprofile: crm_analytics\nmodel-paths: [models]\n"
        "flags:\n  send_anonymous_usage_stats: false\n", encoding="utf-8")
    (root / "profiles.yml").write_text(
        "crm_analytics:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {json.dumps(str(warehouse))}\n      threads: 2\n", encoding="utf-8")
    return root


def _dbt(root: Path, *args: str) -> dict:
    exe = shutil.which("dbt", path=str(Path(sys.executable).parent)) or shutil.which("dbt")
    assert exe, "dbt is not installed: pip install -e '.[test]'"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"}
    done = subprocess.run([exe, *args, "--project-dir", str(root), "--profiles-dir", str(root)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    summary = [line for line in done.stdout.splitlines() if "Done. PASS=" in line]
    assert summary, done.stdout[-3000:]
    results = json.loads((root / "target" / "run_results.json").read_text(encoding="utf-8"))
    return {"summary": summary[-1], "results": results["results"]}


def _rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory, warehouse_file):
    """segc dbt --as-of-var, then dbt build --vars pinning the fixtures' reference day."""
    tmp = tmp_path_factory.mktemp("dbt")
    project = _project_copy(tmp)
    warehouse = tmp / "warehouse.duckdb"
    shutil.copy(warehouse_file, warehouse)
    root = _dbt_project(tmp / "dbt", warehouse)
    result = CliRunner().invoke(main, ["dbt", "-p", str(project), "--out", str(root / "models" / "segc"),
                                       "--as-of-var", "segc_as_of"])
    assert result.exit_code == 0, result.output
    run = _dbt(root, "build", "--vars", f"{{segc_as_of: {REF_DAY.isoformat()}}}")
    return {"project": project, "warehouse": warehouse, "root": root, **run}


def test_dbt_build_passes_every_model_and_test(built):
    project, _ = load_project(built["project"], check_lock=False)
    statuses = {r["unique_id"]: r["status"] for r in built["results"]}
    models = {k for k in statuses if k.startswith("model.")}
    tests = {k for k in statuses if k.startswith("test.")}
    assert len(models) == len(project.segments) + 2
    children = sum(1 for s in project.segments if s.parent)
    # unique + not_null per segment key, relationships per child, and the two views' own tests
    assert len(tests) == 2 * len(project.segments) + children + 7
    assert {statuses[k] for k in models} == {"success"}
    assert {statuses[k] for k in tests} == {"pass"}
    assert f"PASS={len(models) + len(tests)} WARN=0 ERROR=0 SKIP=0" in built["summary"]


def test_dbt_models_hold_segc_members(built):
    project, _ = load_project(built["project"], check_lock=False)
    engine = DuckDBEngine(built["warehouse"])
    try:
        for seg in project.segments:
            entity = project.model.entity(seg.entity)
            got = sorted(r[0] for r in _rows(
                built["warehouse"], f'SELECT "{entity.key}" FROM main."seg_{seg.id}"'))
            assert got == sorted(member_keys(project, engine, seg.id, REF_DAY)), seg.id
    finally:
        engine.close()
    # the Jinja-looking segment is the A-rank customers: its values matched as plain text
    a_rank = _rows(built["warehouse"], "SELECT count(*) FROM crm.customers WHERE rank = 'A'")[0][0]
    assert _rows(built["warehouse"], 'SELECT count(*) FROM main."seg_jinja_text"')[0][0] == a_rank > 0


def test_dbt_membership_and_counts_equal_segc_views(built, tmp_path, warehouse_file):
    project, _ = load_project(built["project"], check_lock=False)
    views = tmp_path / "views.duckdb"
    shutil.copy(warehouse_file, views)
    engine = DuckDBEngine(views, read_only=False)
    try:
        apply_views(project, engine, REF_DAY)
    finally:
        engine.close()
    for table, order in (("segment_membership", "1, 2"), ("segment_counts", "1, 4")):
        expected = _rows(views, f'SELECT * FROM segments."{table}" ORDER BY {order}')
        got = _rows(built["warehouse"], f'SELECT * FROM main."{table}" ORDER BY {order}')
        assert expected, table
        assert got == expected, table


def test_dbt_keeps_user_text_out_of_jinja(built):
    compiled = next((built["root"] / "target" / "compiled").rglob("seg_jinja_text.sql")).read_text(encoding="utf-8")
    assert "'%{{ 7*7 }}%'" in compiled and "'%{\\%%'" not in compiled
    assert "'{# not a comment #}'" in compiled
    manifest = json.loads((built["root"] / "target" / "manifest.json").read_text(encoding="utf-8"))
    node = manifest["nodes"]["model.crm_analytics.seg_jinja_text"]
    assert node["description"].startswith("{{ 7 * 7 }} and {% raw %} and {# no comment #}.\n")
    assert "{{ exceptions.raise_compiler_error('escaped?') }}" in node["description"]


def test_dbt_without_var_uses_current_date_and_tables(tmp_path, warehouse_file):
    """The default: no var, today is CURRENT_DATE; --materialized table builds tables."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse_file, warehouse)
    root = _dbt_project(tmp_path / "dbt", warehouse)
    project_dir = tmp_path / "project"
    shutil.copytree(EXAMPLE, project_dir)
    result = CliRunner().invoke(main, ["dbt", "-p", str(project_dir), "--out", str(root / "models" / "segc"),
                                       "--materialized", "table"])
    assert result.exit_code == 0, result.output
    run = _dbt(root, "build")
    assert {r["status"] for r in run["results"]} == {"success", "pass"}
    kinds = dict(_rows(warehouse, "SELECT table_name, table_type FROM information_schema.tables "
                                  "WHERE table_schema = 'main'"))
    assert kinds["segment_counts"] == kinds["seg_vip"] == "BASE TABLE"
    project, _ = load_project(EXAMPLE, check_lock=False)
    engine = DuckDBEngine(warehouse)
    try:
        expected = sorted(member_keys(project, engine, "created_last_30d"))  # CURRENT_DATE too
    finally:
        engine.close()
    got = sorted(r[0] for r in _rows(warehouse, 'SELECT customer_id FROM main."seg_created_last_30d"'))
    assert got == expected


# -- the files, without dbt ----------------------------------------------------------------------

def _render(text: str) -> str:
    """A model as dbt would render it, with source() and ref() as plain table names."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals.update(
        source=lambda s, t: f"{s}.{t}", ref=lambda m: m, config=lambda **kw: "",
        var=lambda name, default=None: "2024-03-13",
        modules=type("M", (), {"re": __import__("re")}),
        exceptions=type("E", (), {"raise_compiler_error": staticmethod(lambda m: pytest.fail(m))}))
    return env.from_string(text).render()


@pytest.mark.parametrize("dialect", NAMES)
@pytest.mark.parametrize("as_of_var", [None, "segc_as_of"])
def test_every_dialect_renders_to_sql_sqlglot_parses(tmp_path, dialect, as_of_var):
    project, _ = load_project(_project_copy(tmp_path), check_lock=False)
    d = get_dialect(dialect)
    files = dict(dbt_files(project, d, as_of_var=as_of_var))
    models = {n: t for n, t in files.items() if n.endswith(".sql")}
    assert len(models) == len(project.segments) + 2
    for name, text in models.items():
        sql = _render(text)
        assert "{{" not in sql.replace("{{ 7*7 }}", "").replace("{{ 7 * 7 }}", ""), name
        sqlglot.parse_one(sql, read=d.sqlglot_dialect)
        if as_of_var and name in ("seg_created_last_30d.sql", "segment_counts.sql"):
            assert "2024-03-13" in sql, name


def test_output_is_deterministic_and_headed(tmp_path):
    runner = CliRunner()
    outs = []
    for n in range(2):
        out = tmp_path / f"out{n}"
        assert runner.invoke(main, ["dbt", "-p", str(_project_copy(tmp_path / f"p{n}")), "--out", str(out)]).exit_code == 0
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outs[0] == outs[1]
    for name, data in outs[0].items():
        first = data.decode().splitlines()[0]
        assert first.startswith(("-- generated by segc from ", "# generated by segc from ")), name
    assert "sources.yml" in outs[0] and "schema.yml" in outs[0]


def test_stale_models_are_removed_and_user_files_kept(tmp_path):
    project = _project_copy(tmp_path)
    out = tmp_path / "models"
    out.mkdir()
    (out / "mine.sql").write_text("select 1\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["dbt", "-p", str(project), "--out", str(out)]).exit_code == 0
    assert (out / "seg_jinja_text.sql").exists()
    (project / "segments" / "zz_jinja.yml").unlink()
    assert CliRunner().invoke(main, ["dbt", "-p", str(project), "--out", str(out)]).exit_code == 0
    assert not (out / "seg_jinja_text.sql").exists()
    assert (out / "mine.sql").read_text(encoding="utf-8") == "select 1\n"


def test_bad_input_writes_nothing(tmp_path):
    project = _project_copy(tmp_path)
    (project / "segments" / "zz_jinja.yml").write_text("segments:\n  - id: x\n    entity: customer\n    where: {rankk: A}\n")
    out = tmp_path / "models"
    result = CliRunner().invoke(main, ["dbt", "-p", str(project), "--out", str(out)])
    assert result.exit_code == 1
    assert "zz_jinja.yml:4:13: error:" in result.output and "Traceback" not in result.output
    assert not out.exists()
    bad_var = CliRunner().invoke(main, ["dbt", "-p", str(project), "--out", str(out), "--as-of-var", "a-b"])
    assert bad_var.exit_code == 2 and not out.exists()


@pytest.mark.parametrize("text", ["{{ x }}", "{% if %}", "{# c #}", "{{{", "a{", "{", "}}", "{ {"])
def test_jinja_escape_round_trips(text):
    assert jinja2.Environment().from_string(jinja_escape(text)).render() == text
