"""`segc demo`: the example project on a DuckDB warehouse built from the bundled fixtures."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb

from segc.compiler import load_project
from segc.engines.duckdb import DuckDBEngine
from segc.compiler.ir import Project
from segc.engines.run import CountRow, count_segments
from segc.render import count_table
from segc.warehouse import load_duckdb

REFERENCE_DAY = dt.date(2024, 3, 13)  # the day the fixture data is written around (a Wednesday)


def fixtures_dir() -> Path:
    """The fixtures shipped in the wheel, or those of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_fixtures", here.parent / "fixtures"):
        if (candidate / "example" / "segc.yml").is_file():
            return candidate
    raise FileNotFoundError("segc's demo fixtures are missing from this installation")


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        load_duckdb(con, fixtures_dir() / "warehouse")
    finally:
        con.close()


def demo_counts(as_of: dt.date | None = None, keep: Path | None = None) -> tuple[Project, list[CountRow]]:
    """The example project and its counts on a freshly built demo warehouse."""
    as_of = as_of or REFERENCE_DAY
    example = fixtures_dir() / "example"
    project, _ = load_project(example)
    with tempfile.TemporaryDirectory(prefix="segc-demo-") as tmp:
        path = keep or Path(tmp) / "warehouse.duckdb"
        if path.exists():
            path.unlink()
        build_warehouse(path)
        engine = DuckDBEngine(path)
        try:
            rows = count_segments(project, engine, as_of)
        finally:
            engine.close()
    return project, rows


def run_demo(as_of: dt.date | None = None, keep: Path | None = None) -> str:
    """The demo's text: the counts as a tree, and what to try next."""
    as_of = as_of or REFERENCE_DAY
    example = fixtures_dir() / "example"
    project, rows = demo_counts(as_of, keep)
    entities = ", ".join(f"{e.name} ({e.label})" for e in project.model.entities)
    lines = [
        f"segc demo: {len(project.segments)} segments of {example} on a DuckDB warehouse",
        f"built from {fixtures_dir() / 'warehouse'}, as of {as_of.isoformat()}.",
        f"Entities: {entities}.",
        "",
        count_table(rows).rstrip("\n"),
        "",
        "Secondary segments with 0 members are hidden (R5); --show-empty on `segc count` shows them.",
        f"Next: segc explain vip_dormant -p {example} --as-of {as_of.isoformat()}",
    ]
    if keep:
        lines.append(f"      segc count -p {example} --db {keep} --as-of {as_of.isoformat()}")
    return "\n".join(lines) + "\n"
