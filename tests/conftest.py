"""Shared fixtures: the fixture warehouse on DuckDB, its rows in Python, ad-hoc segments."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

import engines

from segc.compiler import Emitter
from segc.compiler.check_segments import SegmentChecker, display_order
from segc.compiler.ir import Project
from segc.compiler.project import load_model
from segc.compiler.util import Checker
from segc.compiler.yamlfile import parse_yaml
from segc.dialects import get_dialect
from segc.warehouse import load_duckdb, read_tables

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXAMPLE = FIXTURES / "example"
WAREHOUSE = FIXTURES / "warehouse"
REF_DAY = dt.date(2024, 3, 13)  # the fixtures' reference day, a Wednesday


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden SQL files")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    flag = bool(request.config.getoption("--update-golden"))
    if flag and os.environ.get("CI"):
        raise pytest.UsageError("--update-golden is refused when CI is set")
    return flag


@pytest.fixture(scope="session")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture warehouse in a DuckDB file (shared, never modified by tests)."""
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(con, WAREHOUSE)
    con.close()
    return path


@pytest.fixture
def warehouse_copy(warehouse_file: Path, tmp_path: Path) -> Path:
    """A private copy a test may change (apply)."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse_file, path)
    return path


@pytest.fixture(scope="session")
def duck(warehouse_file: Path):
    con = duckdb.connect(str(warehouse_file), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def rows() -> dict[str, list[dict]]:
    """The fixture rows as Python values, read straight from the CSV files (no compiler)."""
    return {t.name: t.dicts() for t in read_tables(WAREHOUSE)}


@pytest.fixture(scope="session")
def example_model():
    ck = Checker()
    model = load_model(EXAMPLE, ck)
    assert model is not None and not ck.errors, [d.render() for d in ck.items]
    return model


def adhoc_project(model, segments_yaml: str) -> Project:
    """Check a segments file given as text against a model, as the CLI would."""
    ck = Checker()
    checker = SegmentChecker(ck, model)
    checker.file(parse_yaml(segments_yaml.encode(), "adhoc.yml"), "adhoc.yml")
    ck.raise_if_errors()
    return Project(model, display_order(checker.out))


def skip_or_fail(reason: str) -> None:
    """An engine that cannot run here is skipped on a laptop; in CI that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run every engine: {reason}")
    pytest.skip(reason)


ENGINES = ("duckdb", "postgres", "snowflake", "spark")


@pytest.fixture(scope="session")
def pg_dsn():
    """$SEGC_TEST_PG_DSN, or a throwaway PostgreSQL cluster for this test session."""
    if os.environ.get("SEGC_TEST_PG_DSN"):
        yield os.environ["SEGC_TEST_PG_DSN"]
        return
    try:
        cluster = engines.PgCluster()
    except engines.Unavailable as exc:
        skip_or_fail(str(exc))
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


class _Engines:
    """Engines are started once per session, on first use, and loaded with the fixture rows."""

    def __init__(self, request: pytest.FixtureRequest):
        self.request = request
        self.started: dict[str, engines.Engine] = {}

    def get(self, name: str) -> engines.Engine:
        if name not in self.started:
            dsn = self.request.getfixturevalue("pg_dsn") if name == "postgres" else None
            try:
                engine = engines.start(name, dsn)
            except engines.Unavailable as exc:
                skip_or_fail(str(exc))
            engine.load(read_tables(WAREHOUSE))
            self.started[name] = engine
        return self.started[name]

    def close(self) -> None:
        for e in self.started.values():
            e.close()


@pytest.fixture(scope="session")
def engine_pool(request):
    pool = _Engines(request)
    yield pool
    pool.close()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request, engine_pool) -> engines.Engine:
    """Each engine in turn, loaded with the fixture warehouse."""
    return engine_pool.get(request.param)


class Runner:
    """Compile conditions on the example model and return their members from one engine.

    `prefetch` compiles many conditions into one query (one shared FROM, one column per
    condition) so that slow engines answer a whole test module in a few round trips; `members`
    answers from that cache, or runs the segment's own members query.
    """

    def __init__(self, model, engine: engines.Engine):
        self.model = model
        self.engine = engine
        self.dialect = engine.dialect
        self.cache: dict[tuple[str, str, dt.date], set] = {}

    def project(self, where: str | list[str], entity: str = "customer") -> Project:
        wheres = [where] if isinstance(where, str) else where
        text = "segments:\n" + "".join(f"  - id: p{i}\n    entity: {entity}\n    where: {w}\n"
                                       for i, w in enumerate(wheres))
        return adhoc_project(self.model, text)

    def prefetch(self, wheres: list[str], entity: str = "customer", as_of: dt.date = REF_DAY) -> None:
        wheres = [w for w in dict.fromkeys(wheres) if (w, entity, as_of) not in self.cache]
        if not wheres:
            return
        project = self.project(wheres, entity)
        emitter = Emitter(project, self.dialect, as_of)
        frame = emitter.frame(entity)
        cols = [frame.key] + [exp.Coalesce(this=frame.condition(s.condition), expressions=[exp.false()]).as_(f"c{i}")
                              for i, s in enumerate(project.segments)]
        rows = self.engine.query(self.dialect.sql(frame.select(cols), pretty=False))
        for i, w in enumerate(wheres):
            self.cache[(w, entity, as_of)] = {r[0] for r in rows if r[i + 1]}

    def members(self, where: str, entity: str = "customer", as_of: dt.date = REF_DAY) -> set:
        key = (where, entity, as_of)
        if key not in self.cache:
            project = self.project(where, entity)
            emitter = Emitter(project, self.dialect, as_of)
            sql = self.dialect.sql(emitter.members_query(project.segment("p0")))
            self.cache[key] = {r[0] for r in self.engine.query(sql)}
        return self.cache[key]


@pytest.fixture(scope="session")
def run(example_model, engine) -> Runner:
    return Runner(example_model, engine)
