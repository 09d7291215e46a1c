"""The `segc` commands on the example project and the fixture warehouse (SPEC 1, 4 and 5).

Expected answers come from reading the example's YAML with PyYAML and from plain Python over the
fixture rows (the `rows` fixture), never from segc. Every test that may write runs on a copy of
the example project in tmp_path, so fixtures/ never changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from conftest import EXAMPLE, REF_DAY
from segc.cli import main
from segc.dialects import NAMES as DIALECTS

AS_OF = REF_DAY.isoformat()  # 2024-03-13, a Wednesday
# SPEC 5's commands
SPEC_COMMANDS = ("validate", "compile", "count", "members", "explain", "templates", "new", "apply",
                 "dbt", "schema", "demo")
README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Helpers


def invoke(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.output
    return result


def failed(result, code: int):
    assert result.exit_code == code, f"exit {result.exit_code}, wanted {code}\n{result.output}"
    assert "Traceback" not in result.output
    assert result.stderr.strip(), "a failure says why on stderr"
    return result


def leading_comment(text: str) -> str:
    """The comment lines a file starts with."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return "\n".join(lines)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the example project."""
    dest = tmp_path / "project"
    shutil.copytree(EXAMPLE, dest)
    assert not (dest / "segc.lock").exists()
    return dest


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


def segment_tree(project_dir: Path) -> dict[str, dict]:
    """Every segment of a project, generated ones included, read from the YAML with PyYAML.

    id -> {parent, level, file, entity, scope, owner}
    """
    model = yaml.safe_load((project_dir / "segc.yml").read_text(encoding="utf-8"))
    out: dict[str, dict] = {}

    def walk(spec: dict, parent: str | None, level: int, file: str, entity: str, scope: str, owner):
        sid = spec["id"]
        out[sid] = {"parent": parent, "level": level, "file": file, "entity": entity, "scope": scope,
                    "owner": owner, "name": spec.get("name", sid)}
        for child in spec.get("children") or []:
            walk(child, sid, level + 1, file, entity, scope, owner)
        if "split_by" in spec:
            values = model["entities"][entity]["fields"][spec["split_by"]]["values"]
            for v in values:
                out[f"{sid}__{slug(v)}"] = {"parent": sid, "level": level + 1, "file": file, "entity": entity,
                                            "scope": scope, "owner": owner, "name": f"{out[sid]['name']} / {v}"}
            out[f"{sid}__empty"] = {"parent": sid, "level": level + 1, "file": file, "entity": entity,
                                    "scope": scope, "owner": owner, "name": None}

    for f in sorted((project_dir / "segments").glob("*.yml")):
        for spec in yaml.safe_load(f.read_text(encoding="utf-8"))["segments"]:
            walk(spec, None, 1, f"segments/{f.name}", spec["entity"], spec.get("scope", "company"),
                 spec.get("owner"))
    return out


EXAMPLE_TREE = segment_tree(EXAMPLE)


def blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def oracle(rows) -> dict[str, dict]:
    """Members of the example segments that plain Python can decide, as of 2024-03-13.

    id -> {key: owner} for each member.
    """
    customers = rows["customers"]
    leads = rows["leads"]
    orders = rows["orders"]
    ordered = {o["customer_id"] for o in orders}
    last_won: dict[int, dt.datetime] = {}
    for o in orders:
        if o["status"] == "won":
            cid = o["customer_id"]
            last_won[cid] = max(last_won.get(cid, o["ordered_at"]), o["ordered_at"])

    def importance(c):
        return (c["custom_fields"] or {}).get("importance")

    def vip(c):
        return c["rank"] in ("A", "B")

    def dormant(c):  # no won deal on or after 2023-12-14 (90 days before the reference day)
        last = last_won.get(c["customer_id"])
        return last is None or last.date() <= dt.date(2023, 12, 14)

    preds = {
        "vip": vip,
        "vip_dormant": lambda c: vip(c) and dormant(c),
        "vip_dormant_key_accounts": lambda c: vip(c) and dormant(c) and c["is_key_account"] is True,
        "vip_by_importance": vip,
        "vip_by_importance__empty": lambda c: vip(c) and blank(importance(c)),
        "vip__empty": lambda c: vip(c) and blank(c["country_code"]),
        "unassigned": lambda c: blank(c["owner_id"]),
        "other_owners": lambda c: not blank(c["owner_id"]) and c["owner_id"] not in ("tanaka", "suzuki"),
        "never_ordered": lambda c: c["customer_id"] not in ordered,
        "big_accounts": lambda c: c["deal_total"] is not None and 10000 <= c["deal_total"] <= 1000000
        and c["is_key_account"] is True,
        # this week: Monday 2024-03-11 .. Sunday 2024-03-17
        "tanaka_followups": lambda c: c["next_followup_on"] is not None
        and dt.date(2024, 3, 11) <= c["next_followup_on"] <= dt.date(2024, 3, 17),
    }
    model = yaml.safe_load((EXAMPLE / "segc.yml").read_text(encoding="utf-8"))
    for v in model["entities"]["customer"]["fields"]["country"]["values"]:
        preds[f"vip__{slug(v)}"] = (lambda v: lambda c: vip(c) and c["country_code"] == v)(v)
    for v in model["entities"]["customer"]["fields"]["importance"]["values"]:
        preds[f"vip_by_importance__{slug(v)}"] = (lambda v: lambda c: vip(c) and importance(c) == v)(v)
    out = {sid: {c["customer_id"]: c["owner_id"] for c in customers if p(c)} for sid, p in preds.items()}
    out["leads_missing_country"] = {r["lead_id"]: r["owner_id"] for r in leads if blank(r["country_code"])}
    return out


def count_json(project_dir: Path, db: Path, *extra: str) -> list[dict]:
    result = ok(invoke("count", "-p", project_dir, "--db", db, "--as-of", AS_OF, "--format", "json", *extra))
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def check_count_shape(data: list[dict], tree: dict[str, dict]) -> None:
    """SPEC 5: at least id, name, parent (null on top), level, count; each parent before its children."""
    seen: set[str] = set()
    for obj in data:
        assert {"id", "name", "parent", "level", "count"} <= set(obj), obj
        sid = obj["id"]
        assert sid in tree, sid
        assert sid not in seen, f"{sid} listed twice"
        assert obj["parent"] == tree[sid]["parent"], sid
        assert obj["level"] == tree[sid]["level"], sid
        assert isinstance(obj["count"], int) and obj["count"] >= 0
        assert isinstance(obj["name"], str) and obj["name"]
        if tree[sid]["name"] is not None:
            assert obj["name"] == tree[sid]["name"], sid
        if obj["parent"] is not None:
            assert obj["parent"] in seen, f"{sid} is listed before its parent {obj['parent']}"
        seen.add(sid)


def views_in(db: Path, schema: str = "segments") -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = ? AND NOT internal", [schema]).fetchall()}
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_oracle_covers_every_secondary_segment(rows) -> None:
    """The tree read from YAML is sane, and Python decides every secondary segment's members."""
    known = oracle(rows)
    for sid, seg in EXAMPLE_TREE.items():
        if seg["level"] > 1:
            assert sid in known, sid
            assert set(known[sid]) <= set(known[seg["parent"]]), sid
    assert "vip__no" in EXAMPLE_TREE and "vip__aq" in EXAMPLE_TREE  # "NO" is a string, not false
    assert EXAMPLE_TREE["tanaka_followups"]["scope"] == "personal"


# ---------------------------------------------------------------------------------------------
# compile


def test_compile_stdout_is_byte_identical_across_runs(project: Path) -> None:
    first = ok(invoke("compile", "-p", project, "--as-of", AS_OF)).stdout
    second = ok(invoke("compile", "-p", project, "--as-of", AS_OF)).stdout
    assert first and first == second
    # relative to the current date, too
    assert ok(invoke("compile", "-p", project)).stdout == ok(invoke("compile", "-p", project)).stdout


def test_compile_is_byte_identical_across_processes(project: Path, tmp_path: Path) -> None:
    """No dependence on hash seeds or other per-process state."""
    outs = []
    for seed in ("0", "4242"):
        out_dir = tmp_path / f"out{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONIOENCODING="utf-8")
        proc = subprocess.run([sys.executable, "-m", "segc.cli", "compile", "-p", str(project), "--as-of", AS_OF],
                              capture_output=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        proc2 = subprocess.run([sys.executable, "-m", "segc.cli", "compile", "-p", str(project), "--as-of", AS_OF,
                                "--out", str(out_dir)], capture_output=True, env=env, timeout=120)
        assert proc2.returncode == 0, proc2.stderr
        outs.append((proc.stdout, {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}))
    assert outs[0] == outs[1]


def test_compile_out_is_byte_identical_across_runs(project: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", a))
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", b))
    files_a = {p.name: p.read_bytes() for p in a.iterdir()}
    files_b = {p.name: p.read_bytes() for p in b.iterdir()}
    assert files_a and files_a == files_b
    # and again into the same folder: nothing changes
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", a))
    assert {p.name: p.read_bytes() for p in a.iterdir()} == files_a


def test_compile_several_dialects_at_once(project: Path, tmp_path: Path) -> None:
    """--dialect repeated: one load, each dialect's files in DIR/<dialect>/, as compiled alone."""
    both = tmp_path / "both"
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--dialect", "postgres", "--dialect", "snowflake",
              "--dialect", "postgres", "--out", both))
    assert sorted(p.name for p in both.iterdir()) == ["postgres", "snowflake"]
    for dialect in ("postgres", "snowflake"):
        alone = tmp_path / dialect
        ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--dialect", dialect, "--out", alone))
        expected = {p.name: p.read_bytes() for p in alone.iterdir()}
        assert expected and {p.name: p.read_bytes() for p in (both / dialect).iterdir()} == expected
    result = invoke("compile", "-p", project, "--dialect", "postgres", "--dialect", "snowflake")
    assert result.exit_code == 2 and "--out" in result.output


def test_unwritable_output_is_a_clean_error(project: Path, tmp_path: Path) -> None:
    """An output path that cannot be written is the user's to fix: no "internal error", no traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    for command in ("compile", "dbt"):
        result = invoke(command, "-p", project, "--out", blocker / "sub")
        assert result.exit_code == 1, result.output
        assert "Not a directory" in result.stderr and str(blocker / "sub") in result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.output


def test_console_script_entry_point(project: Path, tmp_path: Path) -> None:
    """`python -m segc` (and the `segc` script) go through run(): output as main() gives it."""
    out = subprocess.run([sys.executable, "-m", "segc", "compile", "-p", str(project), "--as-of", AS_OF],
                         capture_output=True, text=True, check=True).stdout
    assert out == ok(invoke("compile", "-p", project, "--as-of", AS_OF)).stdout
    bad = subprocess.run([sys.executable, "-m", "segc", "members", "nope", "-p", str(project)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_compile_out_writes_one_file_per_view(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "sql"
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", out))
    expected = {f"seg_{sid}.sql" for sid in EXAMPLE_TREE} | {"segment_membership.sql", "segment_counts.sql"}
    assert {p.name for p in out.iterdir()} == expected


def test_compile_out_files_name_their_source(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "sql"
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", out))
    for sid, seg in EXAMPLE_TREE.items():
        text = (out / f"seg_{sid}.sql").read_text(encoding="utf-8")
        assert text.startswith("-- generated by segc"), sid
        assert seg["file"] in leading_comment(text), sid
        assert f"seg_{sid}" in text
    for name in ("segment_membership", "segment_counts"):
        text = (out / f"{name}.sql").read_text(encoding="utf-8")
        assert text.startswith("-- generated by segc"), name
        assert "segc.yml" in text.splitlines()[0]


def test_compile_out_removes_stale_generated_files_only(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "sql"
    extra = project / "segments" / "extra.yml"
    extra.write_text("segments:\n  - id: extra_one\n    entity: customer\n    where: {rank: D}\n", encoding="utf-8")
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", out))
    assert (out / "seg_extra_one.sql").is_file()

    mine = b"-- my own query, kept by hand\nSELECT 1;\n"
    (out / "custom.sql").write_bytes(mine)
    mentions = b"-- not generated by segc, even if it says so later\nSELECT 2;\n"
    (out / "mentions.sql").write_bytes(mentions)
    (out / "README.txt").write_bytes(b"notes\n")
    extra.unlink()
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", out))

    assert not (out / "seg_extra_one.sql").exists(), "the deleted segment's view file is stale"
    assert (out / "custom.sql").read_bytes() == mine
    assert (out / "mentions.sql").read_bytes() == mentions
    assert (out / "README.txt").read_bytes() == b"notes\n"
    generated = {f"seg_{sid}.sql" for sid in EXAMPLE_TREE} | {"segment_membership.sql", "segment_counts.sql"}
    assert {p.name for p in out.iterdir()} == generated | {"custom.sql", "mentions.sql", "README.txt"}


def test_compile_to_stdout(project: Path, tmp_path: Path) -> None:
    stdout = ok(invoke("compile", "-p", project, "--as-of", AS_OF)).stdout
    headers = [line for line in stdout.splitlines() if line.startswith("-- generated by segc")]
    assert len(headers) == len(EXAMPLE_TREE) + 2
    assert stdout.startswith("-- generated by segc")
    # the same SQL as the files
    out = tmp_path / "sql"
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", out))
    for p in out.iterdir():
        assert p.read_text(encoding="utf-8") in stdout, p.name
    # every segment's header names its source file
    for sid, seg in EXAMPLE_TREE.items():
        assert any(seg["file"] in h and re.search(rf"\b{sid}\b", h) for h in headers), sid


def test_compile_dialect_duckdb(project: Path) -> None:
    default = ok(invoke("compile", "-p", project, "--as-of", AS_OF)).stdout
    duck = ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--dialect", "duckdb")).stdout
    assert duck == default  # segc.yml says target.dialect: duckdb


@pytest.mark.parametrize("dialect", DIALECTS)
def test_compile_every_dialect_is_headed_and_deterministic(project: Path, tmp_path: Path, dialect: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--dialect", dialect, "--out", a))
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--dialect", dialect, "--out", b))
    files = {p.name: p.read_bytes() for p in a.iterdir()}
    assert files == {p.name: p.read_bytes() for p in b.iterdir()}
    assert len(files) == len(EXAMPLE_TREE) + 2
    for sid, seg in EXAMPLE_TREE.items():
        first = files[f"seg_{sid}.sql"].decode("utf-8").splitlines()[0]
        assert first.startswith("-- generated by segc") and seg["file"] in first, (sid, first)
    stdout = ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--dialect", dialect)).stdout
    assert stdout.startswith("-- generated by segc")
    assert stdout.count("-- generated by segc") == len(EXAMPLE_TREE) + 2


def test_compile_unknown_dialect_is_a_usage_error(project: Path) -> None:
    failed(invoke("compile", "-p", project, "--dialect", "nosuchsql"), 2)


def test_compiled_sql_runs_on_duckdb(project: Path, tmp_path: Path, warehouse_copy: Path, rows) -> None:
    out = tmp_path / "sql"
    ok(invoke("compile", "-p", project, "--as-of", AS_OF, "--out", out))
    con = duckdb.connect(str(warehouse_copy))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS segments").fetchall()
        for sid in EXAMPLE_TREE:
            con.execute((out / f"seg_{sid}.sql").read_text(encoding="utf-8")).fetchall()
        got = {r[0] for r in con.execute("SELECT customer_id FROM segments.seg_vip").fetchall()}
    finally:
        con.close()
    assert got == set(oracle(rows)["vip"])


# ---------------------------------------------------------------------------------------------
# count and members only read


def test_count_and_members_only_read(project: Path, warehouse_copy: Path) -> None:
    db_before = sha(warehouse_copy)
    project_before = tree_digest(project)
    ok(invoke("count", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
    ok(invoke("count", "-p", project, "--db", warehouse_copy, "--format", "json", "--show-empty", "--owner", "tanaka"))
    ok(invoke("members", "vip", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
    ok(invoke("members", "leads_missing_country", "-p", project, "--db", warehouse_copy, "--format", "csv"))
    ok(invoke("explain", "vip_dormant", "-p", project, "--as-of", AS_OF))
    assert sha(warehouse_copy) == db_before, "the database file changed"
    assert not (project / "segc.lock").exists(), "count/members/explain wrote segc.lock"
    assert tree_digest(project) == project_before
    assert not list(warehouse_copy.parent.glob("*.wal")), "a write-ahead log was left behind"


def test_count_and_members_open_the_file_read_only(project: Path, warehouse_copy: Path) -> None:
    """While another read-only connection holds the file, a read-write open would be refused."""
    con = duckdb.connect(str(warehouse_copy), read_only=True)
    try:
        ok(invoke("count", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
        ok(invoke("members", "vip", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
        assert con.execute("SELECT count(*) FROM crm.customers").fetchall()[0][0] > 0
    finally:
        con.close()


def test_count_while_another_process_reads(project: Path, warehouse_copy: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
         "print('ready', flush=True); time.sleep(60)", str(warehouse_copy)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        ok(invoke("count", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------------------------------
# apply


GHOST_MODEL = """\
version: 1
target: {dialect: duckdb, schema: segments, view_prefix: seg_}
entities:
  customer:
    table: crm.customers
    key: customer_id
    owner: owner_id
    fields:
      rank: {type: enum, values: [A, B, C, D]}
  ghost:
    table: crm.ghosts
    key: ghost_id
    fields:
      kind: {type: string}
"""


def ghost_project(tmp_path: Path) -> Path:
    """Two segments: the first on a real table, the second on a table the warehouse lacks."""
    p = tmp_path / "ghost"
    (p / "segments").mkdir(parents=True)
    (p / "segc.yml").write_text(GHOST_MODEL, encoding="utf-8")
    (p / "segments" / "a.yml").write_text(
        "segments:\n  - id: first_customers\n    entity: customer\n    where: {rank: A}\n", encoding="utf-8")
    (p / "segments" / "b.yml").write_text(
        "segments:\n  - id: ghosts_all\n    entity: ghost\n    where: {kind: {is_empty: false}}\n", encoding="utf-8")
    return p


def table_sizes(db: Path) -> dict[str, int]:
    names = [r[0] for r in query(db, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'crm'")]
    return {n: query(db, f'SELECT count(*) FROM crm."{n}"')[0][0] for n in names}


def test_apply_is_all_or_nothing(tmp_path: Path, warehouse_copy: Path, rows) -> None:
    p = ghost_project(tmp_path)
    assert ok(invoke("validate", "-p", p))  # the project itself is valid
    con = duckdb.connect(str(warehouse_copy))
    con.execute("CREATE SCHEMA segments").fetchall()
    con.execute("CREATE VIEW segments.keep_me AS SELECT 1 AS x").fetchall()
    con.execute("CREATE VIEW segments.seg_first_customers AS SELECT 42 AS old").fetchall()
    con.close()
    sizes = table_sizes(warehouse_copy)
    assert sizes == {name: len(table) for name, table in rows.items()}

    result = failed(invoke("apply", "-p", p, "--db", warehouse_copy, "--as-of", AS_OF), 3)
    assert "ghosts" in result.stderr

    # nothing of the project took effect; what was there before is untouched
    assert views_in(warehouse_copy) == {"keep_me", "seg_first_customers"}
    assert query(warehouse_copy, "SELECT * FROM segments.seg_first_customers") == [(42,)]
    assert query(warehouse_copy, "SELECT * FROM segments.keep_me") == [(1,)]
    assert table_sizes(warehouse_copy) == sizes


def test_apply_failing_leaves_no_view_and_no_schema(tmp_path: Path, warehouse_copy: Path) -> None:
    p = ghost_project(tmp_path)
    failed(invoke("apply", "-p", p, "--db", warehouse_copy, "--as-of", AS_OF), 3)
    assert views_in(warehouse_copy) == set()
    assert query(warehouse_copy, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'segments'") == [(0,)]


def test_apply_fails_cleanly_when_a_table_is_gone(project: Path, warehouse_copy: Path) -> None:
    con = duckdb.connect(str(warehouse_copy))
    con.execute("DROP TABLE crm.contacts").fetchall()  # needed by last_contact_at, visits
    con.close()
    result = failed(invoke("apply", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF), 3)
    assert "contacts" in result.stderr
    assert views_in(warehouse_copy) == set()


def test_apply_creates_every_view(project: Path, warehouse_copy: Path, rows) -> None:
    ok(invoke("apply", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
    assert views_in(warehouse_copy) == {f"seg_{sid}" for sid in EXAMPLE_TREE} | {"segment_membership", "segment_counts"}
    known = oracle(rows)
    for sid, members in known.items():
        key = "lead_id" if EXAMPLE_TREE[sid]["entity"] == "lead" else "customer_id"
        got = [r[0] for r in query(warehouse_copy, f'SELECT {key} FROM segments."seg_{sid}"')]
        assert sorted(got) == sorted(members), sid
    # the team rows of segment_counts agree
    team = dict(query(warehouse_copy, "SELECT segment_id, member_count FROM segments.segment_counts WHERE owner IS NULL"))
    assert set(team) == set(EXAMPLE_TREE)
    for sid, members in known.items():
        assert team[sid] == len(members), sid
    # one row per segment and owner, for the owners that are not empty
    owned = query(warehouse_copy, "SELECT segment_id, owner, member_count FROM segments.segment_counts "
                                  "WHERE owner IS NOT NULL")
    assert len({(sid, o) for sid, o, _ in owned}) == len(owned)
    assert all(o.strip() for _, o, _ in owned)
    assert all(n is not None for _, _, n in owned)
    per_owner = {(sid, o): n for sid, o, n in owned}
    for sid, members in known.items():
        for owner in ("tanaka", "suzuki", "sato", "lee"):
            want = sum(1 for o in members.values() if o == owner)
            assert per_owner.get((sid, owner), 0) == want, (sid, owner)
            if want:
                assert (sid, owner) in per_owner, (sid, owner)
    # segment_membership lists the same members
    membership = query(warehouse_copy, "SELECT segment_id, member_key, owner FROM segments.segment_membership")
    assert len(membership) == len(set((sid, str(k)) for sid, k, _ in membership))
    got_members: dict[str, set[str]] = {}
    for sid, key, _ in membership:
        got_members.setdefault(sid, set()).add(str(key))
    for sid, members in known.items():
        assert got_members.get(sid, set()) == {str(k) for k in members}, sid
    owner_of = {str(c["customer_id"]): c["owner_id"] for c in rows["customers"]}
    for sid, key, owner in membership:
        if EXAMPLE_TREE[sid]["entity"] == "customer":
            stored = owner_of[str(key)]
            assert owner == stored or (blank(stored) and blank(owner)), (sid, key, owner, stored)
    # apply again: create or replace
    ok(invoke("apply", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
    assert len(views_in(warehouse_copy)) == len(EXAMPLE_TREE) + 2


def test_apply_to_a_new_file(project: Path, tmp_path: Path) -> None:
    """A fresh DuckDB file has none of the tables: exit 3, and no file left holding views."""
    db = tmp_path / "new.duckdb"
    failed(invoke("apply", "-p", project, "--db", db, "--as-of", AS_OF), 3)
    if db.exists():
        assert views_in(db) == set()


# ---------------------------------------------------------------------------------------------
# segc.lock


def lock_entries(project_dir: Path) -> dict[str, dict]:
    data = yaml.safe_load((project_dir / "segc.lock").read_text(encoding="utf-8"))
    return data["segments"]


def check_lock(project_dir: Path) -> None:
    tree = segment_tree(project_dir)
    entries = lock_entries(project_dir)
    assert set(entries) == set(tree)
    for sid, seg in tree.items():
        assert entries[sid]["scope"] == seg["scope"], sid
        assert entries[sid].get("owner") == seg["owner"], sid


def change_segments(project_dir: Path) -> None:
    """Delete the seed examples (8 segments) and add a new segment with a child."""
    (project_dir / "segments" / "seed_examples.yml").unlink()
    (project_dir / "segments" / "fresh.yml").write_text(
        "segments:\n"
        "  - id: brand_new\n    entity: lead\n    where: {source: web}\n"
        "    children:\n      - id: brand_new_child\n        where: {status: new}\n"
        "  - id: sato_mine\n    entity: customer\n    scope: personal\n    owner: sato\n    where: {rank: D}\n",
        encoding="utf-8")


def test_compile_updates_the_lock(project: Path) -> None:
    ok(invoke("compile", "-p", project, "--as-of", AS_OF))
    check_lock(project)
    assert "a_rank_not_contacted_30d" in lock_entries(project)
    change_segments(project)
    ok(invoke("compile", "-p", project, "--as-of", AS_OF))
    check_lock(project)
    entries = lock_entries(project)
    assert {"brand_new", "brand_new_child", "sato_mine"} <= set(entries)
    assert "a_rank_not_contacted_30d" not in entries
    assert entries["sato_mine"] == {"scope": "personal", "owner": "sato"}


def test_apply_updates_the_lock(project: Path, warehouse_copy: Path) -> None:
    ok(invoke("apply", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
    check_lock(project)
    change_segments(project)
    ok(invoke("apply", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF))
    check_lock(project)
    assert "leads_this_quarter" not in lock_entries(project)


def test_locked_owner_cannot_change(project: Path) -> None:
    ok(invoke("compile", "-p", project, "--as-of", AS_OF))
    lock_before = (project / "segc.lock").read_bytes()
    team = project / "segments" / "team.yml"
    text = team.read_text(encoding="utf-8")
    assert text.count("owner: tanaka") == 1
    team.write_text(text.replace("owner: tanaka", "owner: suzuki"), encoding="utf-8")
    result = failed(invoke("validate", "-p", project), 1)
    line = next(line for line in result.stderr.splitlines() if "tanaka_followups" in line)
    assert re.match(r"^.*team\.yml:\d+:\d+: error: ", line), line
    assert "tanaka" in line and "suzuki" in line
    failed(invoke("compile", "-p", project, "--as-of", AS_OF), 1)
    assert (project / "segc.lock").read_bytes() == lock_before, "nothing is written on error"


# ---------------------------------------------------------------------------------------------
# count


def visible(tree: dict[str, dict], counts: dict[str, int]) -> set[str]:
    """Primary segments always; secondary ones with members (R5)."""
    return {sid for sid in counts if tree[sid]["level"] == 1 or counts[sid] > 0}


def test_count_json_shape_and_counts(project: Path, warehouse_file: Path, rows) -> None:
    data = count_json(project, warehouse_file)
    check_count_shape(data, EXAMPLE_TREE)
    known = {sid: len(m) for sid, m in oracle(rows).items()}
    got = {o["id"]: o["count"] for o in data}
    for sid, n in known.items():
        if EXAMPLE_TREE[sid]["level"] == 1 or n > 0:
            assert got.get(sid) == n, sid
        else:
            assert sid not in got, f"{sid} is secondary with 0 members: hidden"
    # every primary segment is shown
    assert {sid for sid, s in EXAMPLE_TREE.items() if s["level"] == 1} <= set(got)
    tops = [o for o in data if o["parent"] is None]
    assert all(o["level"] == 1 for o in tops)


def test_count_hides_empty_secondary_segments(project: Path, warehouse_file: Path, rows) -> None:
    known = {sid: len(m) for sid, m in oracle(rows).items()}
    empty = {sid for sid, n in known.items() if n == 0 and EXAMPLE_TREE[sid]["level"] > 1}
    assert "vip__aq" in empty  # no A/B customer in Antarctica (customer 22 is there)
    shown = {o["id"] for o in count_json(project, warehouse_file)}
    assert not shown & empty
    all_ids = {o["id"]: o["count"] for o in count_json(project, warehouse_file, "--show-empty")}
    assert set(all_ids) == set(EXAMPLE_TREE)
    for sid in empty:
        assert all_ids[sid] == 0
    assert shown == set(all_ids) - empty


def test_count_table_hides_and_shows(project: Path, warehouse_file: Path, rows) -> None:
    plain = ok(invoke("count", "-p", project, "--db", warehouse_file, "--as-of", AS_OF)).stdout
    full = ok(invoke("count", "-p", project, "--db", warehouse_file, "--as-of", AS_OF, "--show-empty")).stdout

    def ids(text):
        return {t for line in text.splitlines() for t in line.split() if t in EXAMPLE_TREE}

    assert "vip__aq" not in ids(plain)
    assert "vip__aq" in ids(full)
    assert ids(full) == set(EXAMPLE_TREE)
    for line in plain.splitlines():
        if "unassigned" in line.split():
            assert line.split()[-1] == str(len(oracle(rows)["unassigned"]))
            break
    else:
        pytest.fail("unassigned not in the table")


ZERO_SEGMENTS = """\
segments:
  - id: huge_deals
    name: Deal total over 100 million
    entity: customer
    where: {deal_total: {">": 100000000}}
    children:
      - id: huge_deals_key
        where: {is_key_account: true}
  - id: vip_again
    entity: customer
    where: {rank: {in: [A, B]}}
    children:
      - id: vip_again_huge
        where: {deal_total: {">": 100000000}}
        children:
          - id: vip_again_huge_key
            where: {is_key_account: true}
"""


def test_primary_segments_with_no_members_are_shown(project: Path, warehouse_file: Path, rows) -> None:
    assert max(c["deal_total"] for c in rows["customers"] if c["deal_total"] is not None) < 100000000
    (project / "segments" / "zero.yml").write_text(ZERO_SEGMENTS, encoding="utf-8")
    tree = segment_tree(project)
    data = count_json(project, warehouse_file)
    check_count_shape(data, tree)
    got = {o["id"]: o["count"] for o in data}
    assert got["huge_deals"] == 0  # primary: always shown
    assert got["vip_again"] == len(oracle(rows)["vip"])
    for sid in ("huge_deals_key", "vip_again_huge", "vip_again_huge_key"):
        assert sid not in got
    full = {o["id"]: o["count"] for o in count_json(project, warehouse_file, "--show-empty")}
    for sid in ("huge_deals", "huge_deals_key", "vip_again_huge", "vip_again_huge_key"):
        assert full[sid] == 0
    check_count_shape(count_json(project, warehouse_file, "--show-empty"), tree)


@pytest.mark.parametrize("owner", ["tanaka", "suzuki", "lee"])
def test_count_for_one_owner(project: Path, warehouse_file: Path, rows, owner: str) -> None:
    """R19: only NAME's members are counted; company segments plus NAME's personal ones."""
    data = count_json(project, warehouse_file, "--owner", owner, "--show-empty")
    check_count_shape(data, EXAMPLE_TREE)
    expected_ids = {sid for sid, s in EXAMPLE_TREE.items() if s["scope"] == "company" or s["owner"] == owner}
    got = {o["id"]: o["count"] for o in data}
    assert set(got) == expected_ids
    assert ("tanaka_followups" in got) == (owner == "tanaka")
    team = {o["id"]: o["team_count"] for o in data}  # the whole team's, from the same pass
    for sid, members in oracle(rows).items():
        if sid in expected_ids:
            assert got[sid] == sum(1 for o in members.values() if o == owner), sid
            assert team[sid] == len(members), sid
    assert got["unassigned"] == 0  # nobody's customers are unassigned ones
    table = ok(invoke("count", "-p", project, "--db", warehouse_file, "--as-of", AS_OF, "--owner", owner)).stdout
    assert table.splitlines()[0].split()[-2:] == ["MEMBERS", "TEAM"]
    row = next(line for line in table.splitlines() if " unassigned " in line)
    assert row.split()[-2:] == ["0", str(team["unassigned"])]

    shown = count_json(project, warehouse_file, "--owner", owner)
    check_count_shape(shown, EXAMPLE_TREE)
    assert {o["id"] for o in shown} == visible(EXAMPLE_TREE, got)


def test_count_without_owner_shows_every_segment(project: Path, warehouse_file: Path, rows) -> None:
    data = count_json(project, warehouse_file, "--show-empty")
    assert all("team_count" not in o for o in data)  # the count is the team's already
    got = {o["id"]: o["count"] for o in data}
    assert set(got) == set(EXAMPLE_TREE)
    assert got["tanaka_followups"] == len(oracle(rows)["tanaka_followups"])


def test_members_json_and_owner(project: Path, warehouse_file: Path, rows) -> None:
    known = oracle(rows)
    for sid in ("vip", "unassigned", "vip__no", "leads_missing_country", "tanaka_followups"):
        out = ok(invoke("members", sid, "-p", project, "--db", warehouse_file, "--as-of", AS_OF,
                        "--format", "json")).stdout
        assert json.loads(out) == sorted(known[sid]), sid
    out = ok(invoke("members", "vip", "-p", project, "--db", warehouse_file, "--as-of", AS_OF,
                    "--owner", "sato", "--format", "json")).stdout
    assert json.loads(out) == sorted(k for k, o in known["vip"].items() if o == "sato")


def test_members_csv_has_a_header(project: Path, warehouse_file: Path, rows) -> None:
    out = ok(invoke("members", "never_ordered", "-p", project, "--db", warehouse_file, "--as-of", AS_OF,
                    "--format", "csv")).stdout
    lines = out.splitlines()
    assert lines[0].strip() and not lines[0].strip().isdigit()
    assert lines[1:] == [str(k) for k in sorted(oracle(rows)["never_ordered"])]


def test_members_unknown_segment(project: Path, warehouse_file: Path) -> None:
    result = failed(invoke("members", "vipp", "-p", project, "--db", warehouse_file), 2)
    assert "vip" in result.stderr


# ---------------------------------------------------------------------------------------------
# database failures: exit 3, a clean message


@pytest.mark.parametrize("command", [["count"], ["members", "vip"], ["apply"]])
def test_missing_database_file(project: Path, tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "nowhere" / "missing.duckdb"
    result = failed(invoke(*command, "-p", project, "--db", db, "--as-of", AS_OF), 3)
    assert "missing.duckdb" in result.stderr
    assert result.stderr.startswith("segc: error") or "error" in result.stderr.splitlines()[0]
    if command[0] != "apply":
        assert not db.exists(), "a reading command created the database file"


@pytest.mark.parametrize("command", [["count"], ["members", "vip"], ["apply"]])
def test_corrupt_database_file(project: Path, tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "corrupt.duckdb"
    junk = b"this is not a DuckDB database\n" * 500
    db.write_bytes(junk)
    result = failed(invoke(*command, "-p", project, "--db", db, "--as-of", AS_OF), 3)
    assert "corrupt.duckdb" in result.stderr
    assert db.read_bytes() == junk


def test_database_without_the_tables(project: Path, tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    before = sha(db)
    failed(invoke("count", "-p", project, "--db", db, "--as-of", AS_OF), 3)
    failed(invoke("members", "vip", "-p", project, "--db", db, "--as-of", AS_OF), 3)
    assert sha(db) == before


@pytest.mark.parametrize("command", [["count"], ["members", "vip"], ["apply"]])
def test_db_or_dsn_exactly_one(project: Path, warehouse_file: Path, command: list[str]) -> None:
    failed(invoke(*command, "-p", project, "--as-of", AS_OF), 2)
    failed(invoke(*command, "-p", project, "--db", warehouse_file, "--dsn", "postgresql://nobody@localhost/none"), 2)


def test_database_locked_by_another_writer(project: Path, warehouse_copy: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
         str(warehouse_copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        failed(invoke("count", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF), 3)
        failed(invoke("apply", "-p", project, "--db", warehouse_copy, "--as-of", AS_OF), 3)
    finally:
        holder.kill()
        holder.wait()
    assert not (project / "segc.lock").exists(), "a failed apply does not record the segments"


def test_usage_errors(project: Path, warehouse_file: Path) -> None:
    failed(invoke("count", "-p", project, "--db", warehouse_file, "--as-of", "2024-13-01"), 2)
    failed(invoke("count", "-p", project, "--db", warehouse_file, "--format", "xml"), 2)
    failed(invoke("members", "vip", "-p", project, "--db", warehouse_file, "--format", "xml"), 2)
    failed(invoke("nosuchcommand"), 2)


def test_project_without_segc_yml(tmp_path: Path, warehouse_file: Path) -> None:
    result = failed(invoke("validate", "-p", tmp_path), 1)
    assert "segc.yml" in result.stderr
    failed(invoke("count", "-p", tmp_path, "--db", warehouse_file), 1)
    assert not (tmp_path / "segc.lock").exists()


def test_database_failure_through_the_real_command(project: Path, tmp_path: Path) -> None:
    """The installed entry point prints no traceback either."""
    db = tmp_path / "corrupt.duckdb"
    db.write_bytes(b"\x00garbage" * 1000)
    proc = subprocess.run([sys.executable, "-m", "segc.cli", "count", "-p", str(project), "--db", str(db)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip()


# ---------------------------------------------------------------------------------------------
# demo and help


def test_demo(rows) -> None:
    fixtures_before = tree_digest(EXAMPLE)
    out = ok(invoke("demo")).stdout
    counts: dict[str, int] = {}
    for line in out.splitlines():
        tokens = line.split()
        ids = [t for t in tokens if t in EXAMPLE_TREE]
        if ids and tokens[-1].isdigit():
            counts[ids[-1]] = int(tokens[-1])
    known = {sid: len(m) for sid, m in oracle(rows).items()}
    expected_shown = {sid for sid, s in EXAMPLE_TREE.items() if s["level"] == 1 or known[sid] > 0}
    assert set(counts) == expected_shown
    for sid, n in known.items():
        if sid in counts:
            assert counts[sid] == n, sid
    assert tree_digest(EXAMPLE) == fixtures_before, "segc demo changed the bundled fixtures"


def test_demo_keep(tmp_path: Path, rows) -> None:
    db = tmp_path / "demo.duckdb"
    ok(invoke("demo", "--keep", db))
    assert db.is_file()
    assert query(db, "SELECT count(*) FROM crm.customers") == [(len(rows["customers"]),)]


def _commands() -> list[tuple[str, ...]]:
    """Every command line segc has: ("count",), ("templates", "list"), ..."""
    import click

    out = []
    for name, cmd in sorted(main.commands.items()):
        if isinstance(cmd, click.Group):
            out += [(name, sub) for sub in sorted(cmd.commands)]
        else:
            out.append((name,))
    return out


def test_segc_has_exactly_the_spec_commands() -> None:
    assert set(main.commands) == set(SPEC_COMMANDS)


@pytest.mark.parametrize("words", _commands(), ids=" ".join)
def test_every_command_and_option_is_in_the_readme(words: tuple[str, ...]) -> None:
    """README's command reference names each command, and each of its options."""
    import click

    assert f"segc {' '.join(words)}" in README, f"README does not mention `segc {' '.join(words)}`"
    cmd = main
    for w in words:
        cmd = cmd.commands[w]
    for param in cmd.params:
        if isinstance(param, click.Option):
            longest = max(param.opts, key=len)
            assert longest in README, f"README does not mention {longest} of segc {' '.join(words)}"


DATA_COMMANDS = [
    ["count", "-p", str(EXAMPLE), "--as-of", AS_OF],
    ["members", "vip", "-p", str(EXAMPLE), "--as-of", AS_OF],
    ["explain", "vip", "-p", str(EXAMPLE), "--as-of", AS_OF],
    ["validate", "-p", str(EXAMPLE)],
    ["templates", "list"],
    ["templates", "show", "dormant_customers"],
    ["demo"],
]


@pytest.mark.parametrize("args", DATA_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_data_output_has_json(args: list[str], warehouse_file: Path) -> None:
    if args[0] in ("count", "members"):
        args = [*args, "--db", str(warehouse_file)]
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)


@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, f"segc {command} --help: exit {result.exit_code}\n{result.output}"
    assert "Example" in result.stdout, result.stdout


def test_subcommands_have_help_with_an_example() -> None:
    import click

    for name, cmd in main.commands.items():
        if isinstance(cmd, click.Group):
            for sub in cmd.commands:
                result = invoke(name, sub, "--help")
                assert result.exit_code == 0, (name, sub)
                assert "Example" in result.stdout, (name, sub)


def test_top_level_help_lists_every_command() -> None:
    out = ok(invoke("--help")).stdout
    listed = {line.split()[0] for line in out.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert set(SPEC_COMMANDS) <= listed


def test_count_progress_only_on_a_terminal(warehouse_file, monkeypatch):
    """A progress bar is for people at a terminal: never with --format json or when piped."""
    import segc.cli as cli

    base = ["count", "-p", str(EXAMPLE), "--db", str(warehouse_file), "--as-of", "2024-03-13"]
    piped = CliRunner().invoke(main, base)
    assert piped.exit_code == 0 and "counting" not in piped.stderr
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: True, raising=False)
    assert cli._progress("json") is iter
    assert cli._progress("table") is not iter
