"""Differential property tests: the reference evaluator (tests/reference.py), DuckDB, PostgreSQL
and Snowflake (fakesnow) must return identical members for random models, data, condition trees
and as-of dates (tests/properties.py), and the laws of sets and the partitions of SPEC 2-3 must
hold on every engine.

CI runs a derandomized profile and a small random one; `python tests/soak.py` runs thousands.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from properties import World, worlds
from world_check import check_world

PROPERTY_ENGINES = ("duckdb", "postgres", "snowflake")
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def prop_engines(engine_pool):
    return [engine_pool.get(name) for name in PROPERTY_ENGINES]


@settings(max_examples=int(os.environ.get("SEGC_PROPERTY_EXAMPLES", 60)), derandomize=True, **SETTINGS)
@given(world=worlds())
def test_engines_agree_with_the_reference(world: World, prop_engines):
    problems = check_world(world, prop_engines)
    assert problems == [], "\n".join(problems)


@settings(max_examples=15, derandomize=False, **SETTINGS)
@given(world=worlds(n_conditions=2))
def test_engines_agree_random_sample(world: World, prop_engines):
    problems = check_world(world, prop_engines)
    assert problems == [], "\n".join(problems)
