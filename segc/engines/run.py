"""count, members and apply: compile for the engine's dialect, run, and shape the results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from segc.compiler.emit import Emitter
from segc.compiler.ir import Project, Scope, Segment
from segc.compiler.sqlfiles import view_files
from segc.compiler.util import paused_gc
from segc.dialects import Dialect
from segc.engines.base import Engine


@dataclass(frozen=True, slots=True)
class CountRow:
    segment: Segment
    count: int  # with --owner, the owner's members
    team: int | None = None  # with --owner, the whole team's members (R19), counted in the same pass

    def as_json(self) -> dict[str, Any]:
        s = self.segment
        out = {"id": s.id, "name": s.name, "parent": s.parent, "level": s.level, "count": self.count,
               "entity": s.entity, "scope": s.scope.value, "owner": s.owner}
        if self.team is not None:
            out["team_count"] = self.team
        return out


def visible_segments(project: Project, owner: str | None) -> tuple[Segment, ...]:
    """Company segments plus, with --owner, that person's personal ones; without it, all (R19)."""
    if owner is None:
        return project.segments
    return tuple(s for s in project.segments if s.scope is Scope.COMPANY or s.owner == owner)


def count_segments(project: Project, engine: Engine, as_of: dt.date | None = None,
                   owner: str | None = None, show_empty: bool = False,
                   progress: Callable[[Iterable], Iterable] = iter) -> list[CountRow]:
    """Live counts in display order; one query (one pass) per entity.

    `progress` wraps the iteration over the per-entity queries (a progress bar on a terminal)."""
    emitter = Emitter(project, engine.dialect, as_of)
    segments = visible_segments(project, owner)
    with paused_gc():
        queries = [(segs, engine.dialect.sql(emitter.count_query(entity, segs, owner), pretty=False, copy=False))
                   for entity, segs in emitter.by_entity(segments).items()]
    per = 1 if owner is None else 2  # (owner's, team's) with --owner
    counts: dict[str, tuple[int, ...]] = {}
    for segs, sql in progress(queries):
        row = [int(n or 0) for n in engine.query(sql)[0]]
        counts.update((s.id, tuple(row[i * per:(i + 1) * per])) for i, s in enumerate(segs))
    rows = [CountRow(s, *counts[s.id]) for s in segments]
    if show_empty:
        return rows
    hidden: set[str] = set()
    out = []
    for r in rows:
        s = r.segment
        if s.parent in hidden or (s.level > 1 and r.count == 0):
            hidden.add(s.id)
            continue
        out.append(r)
    return out


def member_keys(project: Project, engine: Engine, segment_id: str, as_of: dt.date | None = None,
                owner: str | None = None) -> list[Any]:
    emitter = Emitter(project, engine.dialect, as_of)
    query = emitter.members_query(project.segment(segment_id), owner)
    return [r[0] for r in engine.query(engine.dialect.sql(query, pretty=False, copy=False))]


def apply_statements(project: Project, d: Dialect, as_of: dt.date | None = None) -> list[str]:
    """The schema, then every view (dropped first where the dialect cannot replace columns)."""
    emitter = Emitter(project, d, as_of)
    schema = tuple(project.model.target.schema.split("."))
    statements = [d.sql(d.create_schema(schema), pretty=False)]
    with paused_gc():
        for f in view_files(project, emitter):
            create = f.statement
            statements += [d.sql(s, pretty=False, copy=False) for s in d.replace_view(create.this, create.expression)]
    return statements


def apply_views(project: Project, engine: Engine, as_of: dt.date | None = None) -> int:
    """Create or replace every view in one transaction; returns how many views."""
    engine.apply(apply_statements(project, engine.dialect, as_of))
    return len(project.segments) + 2
