"""Golden SQL: one reviewed file per case and dialect (tests/golden/CASE/DIALECT.sql).

These are read by people in diffs; they prove nothing alone. The same statements are executed
by the member tests on DuckDB, PostgreSQL, Snowflake (fakesnow) and Spark. Regenerate with
`pytest tests/test_golden.py --update-golden` (refused when CI is set) and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from conftest import EXAMPLE
from segc.compiler import Emitter, load_project, view_files
from segc.dialects import NAMES, get_dialect

GOLDEN = Path(__file__).parent / "golden"
CASES = (
    "a_rank_not_contacted_30d",  # aggregate over has_many, at_least_ago, any with is_empty
    "c_rank_southeast_asia",  # belongs_to lookup
    "recent_deal_new_product",  # months, string_list, JSON field
    "never_ordered",  # not has
    "tanaka_followups",  # this_week (Monday), personal scope
    "vip_dormant_key_accounts",  # three levels of children
    "other_owners",  # not_in holds only on non-empty values
    "acme_like",  # case-insensitive LIKE with escaping
    "no_newsletter_tags",  # contains_none
    "trade_show_vips",  # contains_all
    "segment_membership",
    "segment_counts",
)


@pytest.fixture(scope="module")
def example():
    project, _ = load_project(EXAMPLE, check_lock=False)
    return project


@pytest.mark.parametrize("dialect", NAMES)
@pytest.mark.parametrize("case", CASES)
def test_golden_sql(case, dialect, example, update_golden):
    d = get_dialect(dialect)
    files = {f.view.removeprefix(example.model.target.view_prefix): f for f in view_files(example, Emitter(example, d))}
    text = files[case].render(d, None)
    sqlglot.parse_one(text, read=d.sqlglot_dialect)  # every golden file parses back
    path = GOLDEN / case / f"{dialect}.sql"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing {path}; run pytest --update-golden and review it"
    assert text == path.read_text(encoding="utf-8"), f"{path} differs; run pytest --update-golden and review the diff"


def test_no_stray_golden_files():
    expected = {GOLDEN / c / f"{d}.sql" for c in CASES for d in NAMES}
    assert set(GOLDEN.glob("*/*.sql")) == expected
