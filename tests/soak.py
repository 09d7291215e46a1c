"""Soak the differential property test: many random worlds across the engines.

    python tests/soak.py --examples 10000 [--engines duckdb,postgres,snowflake] [--seed N]

Each example is a random model, data, four condition trees (plus the derived ones the laws of
sets need) and an as-of day between 1999 and 2031; it counts the examples run and how many
disagreed with the reference evaluator, and prints every disagreement. Exit code 1 on any.
PostgreSQL: $SEGC_TEST_PG_DSN, or a throwaway cluster started here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402

import engines  # noqa: E402
from properties import worlds  # noqa: E402
from world_check import check_world  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--engines", default="duckdb,postgres,snowflake")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()

    import os

    cluster = None
    names = args.engines.split(",")
    if "postgres" in names and not os.environ.get("SEGC_TEST_PG_DSN"):
        cluster = engines.PgCluster()
    dsn = os.environ.get("SEGC_TEST_PG_DSN") or (cluster.dsn if cluster else None)
    started = [engines.start(n, dsn) for n in names]
    ran, bad, failures = 0, 0, []
    t0 = time.monotonic()

    def run(world) -> None:
        nonlocal ran, bad
        ran += 1
        try:
            problems = check_world(world, started)
        except Exception as exc:  # a crash is a finding too
            problems = [f"crash: {type(exc).__name__}: {exc}"]
        if problems:
            bad += 1
            failures.append((world, problems))
        if ran % 250 == 0:
            print(f"{ran} examples, {bad} mismatched, {time.monotonic() - t0:.0f} s", flush=True)

    test = settings(max_examples=args.examples, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck))(given(world=worlds())(run))
    if args.seed is not None:
        test = hypothesis_seed(args.seed)(test)
    try:
        test()
    finally:
        for e in started:
            e.close()
        if cluster:
            cluster.stop()
    for world, problems in failures[:20]:
        print("\n".join(problems), "\n", world, "\n", file=sys.stderr)
    print(f"soak: {ran} examples on {', '.join(names)}; {bad} mismatched; {time.monotonic() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
