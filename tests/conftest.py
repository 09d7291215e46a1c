"""Shared fixtures: the fixture warehouse on DuckDB, its rows in Python, ad-hoc segments."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import pytest

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


class Runner:
    """Compile one condition on the example model and return its members from DuckDB."""

    def __init__(self, model, con, dialect: str = "duckdb"):
        self.model = model
        self.con = con
        self.dialect = get_dialect(dialect)

    def project(self, where: str, entity: str = "customer") -> Project:
        text = f"segments:\n  - id: probe\n    entity: {entity}\n    where: {where}\n"
        return adhoc_project(self.model, text)

    def members(self, where: str, entity: str = "customer", as_of: dt.date = REF_DAY) -> set:
        project = self.project(where, entity)
        emitter = Emitter(project, self.dialect, as_of)
        sql = self.dialect.sql(emitter.members_query(project.segment("probe")))
        return {r[0] for r in self.con.execute(sql).fetchall()}


@pytest.fixture(scope="session")
def run(example_model, duck) -> Runner:
    return Runner(example_model, duck)
