"""Run one random world on the reference evaluator and on engines; list every disagreement."""

from __future__ import annotations

import yaml
from sqlglot import exp

from conftest import adhoc_project
from properties import NoAliases, World
from reference import Reference
from segc.compiler import Emitter
from segc.compiler.check_model import ModelChecker
from segc.compiler.util import Checker
from segc.compiler.yamlfile import parse_yaml


def _model(text: str):
    ck = Checker()
    model = ModelChecker(ck, "segc.yml").check(parse_yaml(text.encode(), "segc.yml"))
    assert model is not None and not ck.errors, [d.render() for d in ck.items]
    return model


# (field, value) pairs for the `=` / `!=` / is_empty partition; a duration for the date partitions
PARTITION_PROBES = [("s", "a"), ("e", "A"), ("n", "0"), ("d", "today"), ("ts", "today - 1 month"), ("region", "east"),
                    ("jn", "2.5"), ("r_sum", "0"), ("r_last", "today")]


def derived(world: World) -> list[str]:
    """The world's conditions, plus combinations whose answers the laws of sets and SPEC 2-3's
    partitions fix (see laws())."""
    conds = list(world.conditions)
    x, y = conds[0], conds[-1]
    conds += [f"{{not: {x}}}", f"{{all: [{x}, {y}]}}", f"{{any: [{x}, {y}]}}", f"{{not: {{not: {x}}}}}"]
    field, value = PARTITION_PROBES[world.as_of.toordinal() % len(PARTITION_PROBES)]
    if field == "e":
        value = world.enum_values[0]
    tests = [{"=": value}, {"!=": value}, {"is_empty": "true"}]
    n, unit = world.probe_days, "days"  # rows sit on both sides of today - n days
    for date_field in ("d", "ts"):
        tests_d = [{op: f"{n} {unit}"} for op in ("within_last", "at_least_ago", "within_next", "at_least_ahead")]
        tests_d += [{"<=": "today"}, {">=": "today"}]
        tests += [(date_field, t) for t in tests_d]
    for t in tests:
        f, t = (field, t) if isinstance(t, dict) else t
        conds.append(yaml.dump({f: t}, Dumper=NoAliases, default_flow_style=True, allow_unicode=True,
                               width=10_000).strip())
    return conds


def laws(found: list[set], n: int, everyone: set) -> list[str]:
    """`not` is the complement; `all` and `any` are intersection and union (see derived())."""
    X, Y = found[0], found[n - 1]
    out = []
    if found[n] != everyone - X:
        out.append("not X is not the complement of X")
    if found[n + 1] != X & Y:
        out.append("all [X, Y] is not X ∩ Y")
    if found[n + 2] != X | Y:
        out.append("any [X, Y] is not X ∪ Y")
    if found[n + 3] != X:
        out.append("not not X is not X")
    eq, ne, empty = found[n + 4], found[n + 5], found[n + 6]
    if eq | ne | empty != everyone or eq & ne or eq & empty or ne & empty:
        out.append("=, != and is_empty do not partition the rows")
    for i, name in ((n + 7, "d"), (n + 13, "ts")):
        last, ago, nxt, ahead, past, future = found[i:i + 6]
        if last | ago != past or last & ago:
            out.append(f"within_last and at_least_ago do not partition the past of {name}")
        if nxt | ahead != future or nxt & ahead:
            out.append(f"within_next and at_least_ahead do not partition the future of {name}")
    return out


def check_world(world: World, engines) -> list[str]:
    model = _model(world.model)
    conds = derived(world)
    text = yaml.dump({"segments": [{"id": f"c{i}", "entity": "m", "where": yaml.safe_load(c)}
                                   for i, c in enumerate(conds)]}, Dumper=NoAliases, allow_unicode=True, width=10_000)
    project = adhoc_project(model, text)
    tables = {("prop", t.name): t.dicts() for t in world.tables}
    ref = Reference(model, tables, world.as_of)
    everyone = {r["id"] for r in tables[("prop", "main")]}
    expected = [ref.members("m", s.condition) for s in project.segments]
    n = len(world.conditions)
    problems = [f"reference: {p}" for p in laws(expected, n, everyone)]
    for engine in engines:
        engine.load(world.tables, schema="prop")
        d = engine.dialect
        frame = Emitter(project, d, world.as_of).frame("m")
        cols = [frame.key] + [frame.flag(s.condition).as_(f"c{i}") for i, s in enumerate(project.segments)]
        rows = engine.query(d.sql(frame.select(cols), pretty=False))
        got = [{r[0] for r in rows if r[i + 1]} for i in range(len(conds))]
        problems += [f"{engine.name}: {p}" for p in laws(got, n, everyone)]
        for c, g, e in zip(conds, got, expected):
            if g != e:
                problems.append(f"{engine.name} != reference for {c} as of {world.as_of}: "
                                f"engine {sorted(g)}, reference {sorted(e)}")
    return problems
