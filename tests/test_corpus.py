"""The malformed-input corpus (tests/corpus/bad) and the must-compile corpus (tests/corpus/good).

bad/NN-name/   a whole project with exactly one thing wrong, and `expect.txt`: the FILE:LINE:COL of
               the first error, as segc prints it when run from the repository root with
               `-p tests/corpus/bad/NN-name`. `segc validate` and `segc compile --out DIR` must both
               exit 1 with that error first, print no traceback, and write nothing.
good/NN-name/  a valid project that must validate, compile and apply on a copy of the fixture
               warehouse, without changing any table of schema crm. Optional files:
               setup.sql     run on the warehouse copy first (tables the model reads);
               members.json  [{"id", "args"?, "expect": [keys]} or {"id", "args"?, "sql": oracle}]:
                             `segc members ID --format json` must print exactly these keys;
               literals.json strings that must come back, unchanged, as SQL string literals from
                             the compiled SQL of every dialect.

Inputs too big to commit (megabytes, 20,000 segments, deep nesting, 100,000-element lists, an alias
bomb, file names holding SQL) are written to tmp_path by the tests below.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlglot
from click.testing import CliRunner, Result
from sqlglot import exp

from segc.cli import main
from segc.compiler import load_project
from segc.dialects import NAMES as DIALECTS
from segc.dialects import get_dialect

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
BAD = sorted(p for p in (CORPUS / "bad").iterdir() if p.is_dir())
GOOD = sorted(p for p in (CORPUS / "good").iterdir() if p.is_dir())

DIAG_RE = re.compile(r"^[^:]+:\d+:\d+: (error|warning): ")
SUMMARY_RE = re.compile(r"^segc: \d+ errors?; nothing was written$")
# Control characters other than tab and newline: a message must not carry raw NULs, escape
# sequences (terminal injection) or line breaks that would split one problem over several lines.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# ------------------------------------------------------------------------------------------------
# helpers


def _check(condition: object, message: object = None) -> None:
    """An assertion whose failure shows only its message (the inputs here are long)."""
    if not condition:
        raise AssertionError(message if message is not None else "check failed")


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def code_of(result: Result) -> int:
    """The exit code, after checking that segc exited and did not raise."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"segc raised instead of exiting:\n{tb}")
    return result.exit_code


def assert_clean(result: Result) -> None:
    text = result.output + result.stderr
    _check("Traceback" not in text, text)
    _check("internal error" not in text, text)


def assert_error_lines(stderr: str) -> None:
    """Every line is a diagnostic, its hint, or the summary; none holds control characters."""
    for line in stderr.split("\n"):
        if line == "":
            continue
        _check(DIAG_RE.match(line) or line.startswith("  hint: ") or SUMMARY_RE.match(line), (
            f"stray line {line!r} in stderr:\n{stderr}"))
        _check(not CONTROL_RE.search(line), f"control character in {line!r}")


def assert_rejected(project: str, expected: str, out_dir: Path, lock: Path) -> None:
    """validate and compile --out both exit 1 with `expected` first, and write nothing."""
    lock_before = lock.read_bytes() if lock.exists() else None
    try:
        for args in (["validate"], ["compile", "--out", str(out_dir)]):
            result = invoke([*args, "-p", project])
            code = code_of(result)
            assert_clean(result)
            _check(code == 1, f"{args[0]}: exit {code}, expected 1\n{result.output}")
            first = result.stderr.split("\n", 1)[0]
            _check(first.startswith(f"{expected}: error: "), (
                f"{args[0]}: first line should start with {expected!r}: error:\n{result.stderr}"))
            assert_error_lines(result.stderr)
            _check(result.stdout == "", f"{args[0]} printed to stdout for an invalid project")
            _check(not out_dir.exists(), "compile --out created its folder for an invalid project")
            if lock_before is None:
                _check(not lock.exists(), "segc.lock was written for an invalid project")
            else:
                _check(lock.read_bytes() == lock_before, "segc.lock changed for an invalid project")
    finally:  # never leave a stray segc.lock in the repository, whatever segc did
        if lock_before is None and lock.exists():
            lock.unlink()
        elif lock_before is not None and lock.read_bytes() != lock_before:
            lock.write_bytes(lock_before)


def warehouse_digest(db: Path) -> dict[str, tuple[int, str]]:
    """Row count and content hash of every table in schema crm."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'crm' AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
        out = {}
        for t in tables:
            rows = con.execute(f'SELECT * FROM crm."{t}" ORDER BY ALL').fetchall()
            out[t] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out
    finally:
        con.close()


def parse_sql(sql: str, dialect: str) -> list[exp.Expression]:
    statements = [s for s in sqlglot.parse(sql, read=get_dialect(dialect).sqlglot_dialect) if s is not None]
    _check(statements, "no SQL statement")
    for s in statements:
        _check(isinstance(s, exp.Create) and str(s.args.get("kind")).upper() == "VIEW", (
            f"compiled SQL holds a statement that is not CREATE VIEW: {s.sql()[:200]}"))
    return statements


def string_literals(statements: list[exp.Expression]) -> set[str]:
    return {lit.this for s in statements for lit in s.find_all(exp.Literal) if lit.is_string}


def read_json(case: Path, name: str):
    path = case / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def copy_project(case: Path, dest: Path) -> Path:
    shutil.copytree(case, dest, ignore=shutil.ignore_patterns("expect.txt", "members.json",
                                                              "literals.json", "setup.sql"))
    return dest


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


# ------------------------------------------------------------------------------------------------
# bad corpus


def test_corpus_size() -> None:
    assert len(BAD) >= 70, f"only {len(BAD)} bad cases"
    assert GOOD, "no good cases"


@pytest.mark.parametrize("case", BAD, ids=lambda p: p.name)
def test_expect_file_points_into_the_case(case: Path) -> None:
    """Guards the corpus itself: expect.txt names a file of the case and a position inside it."""
    lines = (case / "expect.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, "expect.txt must hold exactly one line"
    m = re.fullmatch(r"(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)", lines[0])
    assert m, lines[0]
    prefix = f"tests/corpus/bad/{case.name}/"
    assert m["file"].startswith(prefix), m["file"]
    target = case / m["file"][len(prefix):]
    assert target.is_file(), target
    assert (case / "segc.yml").is_file() and list((case / "segments").glob("*.yml")), "not a whole project"
    text = target.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    file_lines = text.splitlines() or [""]
    line, col = int(m["line"]), int(m["col"])
    assert 1 <= line <= len(file_lines), (line, len(file_lines))
    assert 1 <= col <= len(file_lines[line - 1]) + 1, (line, col, file_lines[line - 1])


@pytest.mark.parametrize("case", BAD, ids=lambda p: p.name)
def test_bad_case(case: Path, at_root: Path, tmp_path: Path) -> None:
    expected = (case / "expect.txt").read_text(encoding="utf-8").strip()
    project = case.relative_to(at_root).as_posix()
    assert_rejected(project, expected, tmp_path / "out", case / "segc.lock")


# ------------------------------------------------------------------------------------------------
# bad inputs too big (or too odd) to commit: written at test time


# The small model most bad cases start from (customer, order, country).
BASE_MODEL = (CORPUS / "bad" / "01-yaml-unclosed-flow-map-at-eof" / "segc.yml").read_text(encoding="utf-8")
HEAD = "segments:\n  - id: vip\n    name: VIP\n    entity: customer\n"
WHERE_COL = len("    where: ") + 1  # column of a condition written after `where: `


def _huge_file() -> tuple[str, int, int]:
    pad = "    description: " + "x" * 1000 + "\n"
    return HEAD + pad * 6300, 1, 1  # 6.3 MB: over segc's 5 MB limit, reported at the top


def _many_segments() -> tuple[str, int, int]:
    body = "".join(f"  - id: s{i}\n    entity: customer\n    where: {{rank: A}}\n" for i in range(20_000))
    text = "segments:\n" + body + "  - id: s19999\n    entity: customer\n"
    return text, 1 + 3 * 20_000 + 1, 9  # the repeated id on the last segment


def _deep_condition() -> tuple[str, int, int]:
    # YAML depth: file 0, segments 1, segment 2, the first `{not:` mapping 3, its key 4, ...
    # The first node deeper than segc's 64 levels is the key of the 62nd mapping (depth 65).
    text = HEAD + "    where: " + "{not: " * 200 + "{rank: A}" + "}" * 200 + "\n"
    return text, 5, WHERE_COL + 61 * len("{not: ") + 1


def _deep_brackets() -> tuple[str, int, int]:
    # 5,000 nested flow lists: the 63rd `[` (depth 65) is the first node past the 64-level limit.
    text = HEAD + "    where: " + "[" * 5000 + "]" * 5000 + "\n"
    return text, 5, WHERE_COL + 62


def _long_list() -> tuple[str, int, int]:
    items = ", ".join(str(i) for i in range(99_999))
    text = HEAD + "    where: {deal_total: {in: [" + items + ", lots]}}\n"
    return text, 5, len(text.split("\n")[4]) - len("lots]}}") + 1


GENERATED_BAD = {
    "six-megabyte-file": _huge_file,
    "20000-segments-duplicate-id-at-the-end": _many_segments,
    "condition-200-levels-deep": _deep_condition,
    "5000-nested-brackets": _deep_brackets,
    "100000-element-in-list-bad-last-element": _long_list,
}


@pytest.mark.parametrize("name", GENERATED_BAD)
def test_generated_bad_case(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text, line, col = GENERATED_BAD[name]()
    proj = tmp_path / "proj"
    (proj / "segments").mkdir(parents=True)
    (proj / "segc.yml").write_text(BASE_MODEL, encoding="utf-8")
    (proj / "segments" / "s.yml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert_rejected("proj", f"proj/segments/s.yml:{line}:{col}", tmp_path / "out", proj / "segc.lock")


def test_generated_positions_point_at_their_tokens() -> None:
    """Guards the generators above: each expected position holds the token the comment names."""
    def at(text: str, line: int, col: int) -> str:
        return text.split("\n")[line - 1][col - 1:]

    text, line, col = _many_segments()
    assert text.split("\n")[line - 1] == "  - id: s19999" and at(text, line, col) == "s19999"
    text, line, col = _deep_condition()
    assert at(text, line, col).startswith("not: {not:") and at(text, line, col - 1).startswith("{not:")
    assert at(text, line, 1)[:col - 1].count("{") == 62
    text, line, col = _deep_brackets()
    assert at(text, line, 1)[:col].count("[") == 63 and at(text, line, col).startswith("[")
    text, line, col = _long_list()
    assert at(text, line, col) == "lots]}}"
    assert len(_huge_file()[0].encode()) > 6_000_000


@pytest.mark.parametrize("name", ["20000-segments", "100000-element-in-list"])
def test_generated_large_valid_inputs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Size alone is no error: large valid files validate, and the long list compiles."""
    if name == "20000-segments":
        text = "segments:\n" + "".join(f"  - id: s{i}\n    entity: customer\n    where: {{rank: A}}\n"
                                       for i in range(20_000))
    else:
        text = HEAD + "    where: {deal_total: {in: [" + ", ".join(str(i) for i in range(100_000)) + "]}}\n"
    proj = tmp_path / "proj"
    (proj / "segments").mkdir(parents=True)
    (proj / "segc.yml").write_text(BASE_MODEL, encoding="utf-8")
    (proj / "segments" / "s.yml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = invoke(["validate", "-p", "proj"])
    assert code_of(result) == 0, result.output[-2000:]
    assert ("ok: 20000 segments" if name == "20000-segments" else "ok: 1 segments") in result.stderr
    if name == "100000-element-in-list":
        out = tmp_path / "out"
        result = invoke(["compile", "-p", "proj", "--out", str(out)])
        assert code_of(result) == 0, result.output[-2000:]
        view = (out / "seg_vip.sql").read_text(encoding="utf-8")
        in_list = re.search(r"IN \((.*?)\)", view, re.S)
        assert in_list and len(in_list.group(1).split(",")) == 100_000, "the IN list lost values"


def test_alias_bomb_is_rejected_quickly(tmp_path: Path) -> None:
    """A 1 KB file whose aliases expand to 10^9 values must not hang segc or exhaust memory."""
    anchors = ["&a0 [x, x, x, x, x, x, x, x, x, x]"]
    anchors += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = HEAD + "    description: [" + ", ".join(anchors) + "]\n"
    assert len(text) < 2000
    proj = tmp_path / "proj"
    (proj / "segments").mkdir(parents=True)
    (proj / "segc.yml").write_text(BASE_MODEL, encoding="utf-8")
    (proj / "segments" / "s.yml").write_text(text, encoding="utf-8")

    def limit_memory() -> None:  # pragma: no cover - runs in the child
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    try:
        proc = subprocess.run([sys.executable, "-m", "segc", "validate", "-p", "proj"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=15, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail("segc validate did not finish within 15 s on a 1 KB alias bomb")
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.startswith("proj/segments/s.yml:5:"), proc.stderr[:2000]
    assert_error_lines(proc.stderr)


# ------------------------------------------------------------------------------------------------
# good corpus


@pytest.mark.parametrize("case", GOOD, ids=lambda p: p.name)
def test_good_case(case: Path, warehouse_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = copy_project(case, tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    db = str(warehouse_copy)
    if (case / "setup.sql").exists():
        con = duckdb.connect(db)
        con.execute((case / "setup.sql").read_text(encoding="utf-8"))
        con.close()
    before = warehouse_digest(warehouse_copy)
    assert before, "the warehouse copy has no tables in schema crm"

    result = invoke(["validate", "-p", "proj"])
    assert code_of(result) == 0, result.output
    assert_clean(result)
    assert "error:" not in result.stderr, result.stderr

    out = tmp_path / "out"
    result = invoke(["compile", "-p", "proj", "--out", str(out)])
    assert code_of(result) == 0, result.output
    files = sorted(out.glob("*.sql"))
    assert files, "compile --out wrote no SQL"
    statements = [s for f in files for s in parse_sql(f.read_text(encoding="utf-8"), "duckdb")]
    missing = [v for v in read_json(case, "literals.json") or [] if v not in string_literals(statements)]
    assert not missing, f"values that did not become literals: {missing}"

    result = invoke(["apply", "-p", "proj", "--db", db])
    assert code_of(result) == 0, result.output
    assert_clean(result)

    for check in read_json(case, "members.json") or []:
        args = ["members", check["id"], "-p", "proj", "--db", db, "--format", "json", *check.get("args", [])]
        result = invoke(args)
        assert code_of(result) == 0, (check, result.output)
        got = json.loads(result.stdout)
        if "sql" in check:
            con = duckdb.connect(db, read_only=True)
            expected = sorted(k for (k,) in con.execute(check["sql"]).fetchall())
            con.close()
        else:
            expected = check["expect"]
        assert got == expected, (check["id"], check.get("args"))

    assert warehouse_digest(warehouse_copy) == before, "the warehouse's crm tables changed"

    project, _ = load_project(proj, check_lock=False)
    for seg in project.segments:  # explain resolves every date in Python: it must cope too
        result = invoke(["explain", seg.id, "-p", "proj", "--as-of", "2024-03-13"])
        assert code_of(result) == 0, (seg.id, result.output)
        assert_clean(result)
    lock = (proj / "segc.lock").read_text(encoding="utf-8")
    result = invoke(["validate", "-p", "proj"])  # the lock segc wrote reads back as the same scopes
    assert code_of(result) == 0, (lock, result.output)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", GOOD, ids=lambda p: p.name)
def test_good_case_every_dialect(case: Path, dialect: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Reserved words as names and injection strings as values compile for every dialect and
    parse back with that dialect's reader: only CREATE VIEW statements, every value one literal."""
    copy_project(case, tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    result = invoke(["compile", "-p", "proj", "--dialect", dialect, "--as-of", "2024-03-13"])
    assert code_of(result) == 0, result.output
    assert_clean(result)
    statements = parse_sql(result.stdout, dialect)
    missing = [v for v in read_json(case, "literals.json") or [] if v not in string_literals(statements)]
    assert not missing, f"values that did not come back as literals: {missing}"


def test_reserved_words_are_quoted_identifiers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reserved-word names reach the SQL only as identifiers, in every dialect."""
    case = CORPUS / "good" / "01-sql-reserved-words"
    copy_project(case, tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    for dialect in DIALECTS:
        result = invoke(["compile", "-p", "proj", "--dialect", dialect, "--as-of", "2024-03-13"])
        assert code_of(result) == 0, result.output
        statements = parse_sql(result.stdout, dialect)
        names = {i.name.lower() for s in statements for i in s.find_all(exp.Identifier)}
        for word in ("select", "order", "from", "group", "where", "table", "union", "limit"):
            assert word in names, (dialect, word)


# ------------------------------------------------------------------------------------------------
# text from outside YAML: the names of segment files


@pytest.mark.parametrize("file_name", [
    "x\nDROP TABLE crm.customers; --.yml",
    "x\rDROP TABLE crm.customers; --.yml",
    "x\r\nDELETE FROM crm.orders; --.yml",
], ids=["newline", "carriage-return", "crlf"])
def test_segment_file_names_cannot_inject_sql(file_name: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A file name is not YAML, but it reaches the SQL files' header comments: it must not end them."""
    proj = tmp_path / "proj"
    (proj / "segments").mkdir(parents=True)
    (proj / "segc.yml").write_text(BASE_MODEL, encoding="utf-8")
    (proj / "segments" / file_name).write_text(HEAD + "    where: {rank: A}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    for args in (["compile", "-p", "proj"], ["compile", "-p", "proj", "--out", str(out)]):
        result = invoke(args)
        code = code_of(result)
        assert_clean(result)
        assert code in (0, 1), result.output
        if code == 1:  # rejecting such a file name, with its position, is fine too
            assert_error_lines(result.stderr)
            continue
        texts = [result.stdout] if "--out" not in args else [f.read_text(encoding="utf-8") for f in out.glob("*.sql")]
        for text in texts:
            parse_sql(text, "duckdb")
