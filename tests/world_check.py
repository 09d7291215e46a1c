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


def derived(world: World) -> list[str]:
    """The world's conditions, plus combinations whose answers the laws of sets fix."""
    conds = list(world.conditions)
    x, y = conds[0], conds[-1]
    conds += [f"{{not: {x}}}", f"{{all: [{x}, {y}]}}", f"{{any: [{x}, {y}]}}", f"{{not: {{not: {x}}}}}"]
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
