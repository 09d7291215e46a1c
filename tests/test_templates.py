"""The template library (R6) and `segc new`.

Every template is instantiated through `segc new` into a copy of the example project, with its
defaults and with changed parameters; the project must validate, and each segment is run on DuckDB
over the fixture warehouse (`segc members`) and its members compared with the reference evaluator
(tests/reference.py: plain Python over the IR and the CSV rows). The R14 templates must also give
the same members as the example's hand-written segments for the same rules.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import EXAMPLE, REF_DAY, WAREHOUSE
from reference import Reference
from segc.cli import main
from segc.compiler import load_project
from segc.compiler.yamlfile import YMap, YScalar, YSeq, parse_yaml
from segc.templates import (
    SEGMENT_KEYS, ParamError, coerce, example_command, get_template, render_item, templates, yaml_scalar,
)
from segc.templates.new import appended
from segc.warehouse import read_tables

AS_OF = REF_DAY.isoformat()  # 2024-03-13, the fixtures' reference day
NAMES = [t.name for t in templates()]

# Where the brief and R14 ask for a template, and which one answers.
REQUIRED = {
    "R14: A-rank customers not contacted for 30+ days": "rank_not_contacted",
    "R14: C-rank customers in Southeast Asia": "rank_in_region",
    "R14: deal in the past 6 months and interested in the new product": "recent_deal_interested",
    "R14: repeat buyers (won orders >= 2) not followed up for 30+ days": "repeat_buyers_no_followup",
    "R14: created in the past N days": "created_recently",
    "R14: next follow-up within N days": "followup_due",
    "dormant customers": "dormant_customers",
    "new this month": "new_this_month",
    "repeat buyers": "repeat_buyers",
    "high-value at risk": "high_value_at_risk",
    "unassigned leads (R9)": "unassigned_leads",
    "unassigned customers (R9)": "unassigned",
    "leads missing country (R9)": "leads_missing_country",
    "follow-up due in N days": "followup_due",
    "deal in the last N months": "deal_in_last_months",
    "interested in a product tag": "interested_in_tag",
    "won-back customers": "won_back",
    "a split_by template (R15)": "vip_by_country",
    "key accounts": "key_accounts",
    "leads this quarter": "leads_this_quarter",
    "leads by source": "leads_by_source",
    "renewal due next month": "renewal_due_next_month",
    "big spenders": "big_spenders",
    "never ordered": "never_ordered",
    "e-mail campaign targets (newsletter opt-in)": "newsletter_targets",
    "neglected by owner": "neglected_by_owner",
}

# At least one changed value per template (the whole library must be covered).
NON_DEFAULT = {
    "big_spenders": ["min_revenue=5000.50"],
    "created_between": ["entity=lead", "first=2023-10-01", "last=today - 1 month"],
    "created_recently": ["entity=lead", "days=90"],
    "cross_sell": ["product=enterprise"],
    "deal_in_last_months": ["months=1"],
    "dormant_customers": ["within=1 quarter", "include_never=false"],
    "followup_due": ["days=30"],
    "followup_overdue": ["days=10"],
    "high_value_at_risk": ["min_value=1000", "within=2 weeks", "value_field=won_revenue"],
    "hot_leads": ["min_score=50", "status_field="],
    "interested_in_tag": ["tags=vip, trade_show"],
    "key_accounts": ["flag_field=newsletter_opt_in"],
    "leads_by_source": ["sources=web,event", "excluded=new"],
    "leads_missing_country": ["entity=customer", "country_field=industry"],
    "leads_this_quarter": ["period=last_quarter"],
    "lost_deal_recently": ["within=1 year"],
    "neglected_by_owner": ["owner=suzuki", "days=14"],
    "never_contacted": ["contacts=orders"],
    "never_ordered": ["orders=contacts"],
    "new_this_month": ["period=last_month", "entity=lead"],
    "newsletter_targets": ["email_field="],
    "one_time_buyers": ["within=30 days"],
    "personal_followups": ["owner=sato", "period=next_week"],
    "rank_in_region": ["rank=A", "region=east_asia"],
    "rank_not_contacted": ["rank=B", "days=60"],
    "recent_deal_interested": ["within=1 year", "product=enterprise", "tags_field="],
    "renewal_due_next_month": ["period=this_quarter"],
    "repeat_buyers": ["min_orders=3"],
    "repeat_buyers_no_followup": ["min_orders=3", "days=7"],
    "split_by_field": ["split_field=rank"],
    "stale_leads": ["status=qualified", "older_than=2 weeks"],
    "unassigned": ["entity=lead"],
    "unassigned_leads": ["excluded=new,qualified"],
    "vip_by_country": ["ranks=C,D", "split_field=importance"],
    "won_back": ["recent=6 months", "lapsed=2 years"],
}

# R14 and other templates whose defaults restate a hand-written example segment: same members.
SAME_AS_EXAMPLE = {
    "rank_not_contacted": ([], "a_rank_not_contacted_30d"),
    "rank_in_region": ([], "c_rank_southeast_asia"),
    "recent_deal_interested": ([], "recent_deal_new_product"),
    "repeat_buyers_no_followup": ([], "repeat_buyers_no_followup"),
    "created_recently": ([], "created_last_30d"),
    "followup_due": ([], "followup_next_7d"),
    "leads_this_quarter": ([], "leads_this_quarter"),
    "leads_missing_country": ([], "leads_missing_country"),
    "unassigned": ([], "unassigned"),
    "never_ordered": ([], "never_ordered"),
    "renewal_due_next_month": (["period=this_month"], "renewal_this_month"),
    "vip_by_country": ([], "vip"),
}


# ---------------------------------------------------------------------------------------------
# Helpers


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.output
    return result


def failed(result, *needles: str):
    """Exit 1, no traceback, and stderr names the problem."""
    assert result.exit_code == 1, f"exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    for n in needles:
        assert n in result.stderr, f"{n!r} not in:\n{result.stderr}"
    assert "nothing was written" in result.stderr
    return result


def digest(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file's bytes (hashed) and mtime."""
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def sets(values: list[str]) -> list[str]:
    return [x for v in values for x in ("--set", v)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(EXAMPLE, dest)
    return dest


@pytest.fixture(scope="module")
def tables() -> dict[tuple[str, ...], list[dict]]:
    return {("crm", t.name): t.dicts() for t in read_tables(WAREHOUSE)}


def members(project: Path, db: Path, segment_id: str) -> set:
    """The segment run on DuckDB through `segc members`."""
    out = ok(invoke("members", segment_id, "-p", project, "--db", db, "--as-of", AS_OF, "--format", "json")).stdout
    return set(json.loads(out))


def new_segments(project: Path, segment_id: str):
    """The new segment and the children split_by generated for it, from the loaded project."""
    loaded, _ = load_project(project)
    segs = [s for s in loaded.segments if s.id == segment_id or s.id.startswith(segment_id + "__")]
    assert segs and segs[0].id == segment_id
    return loaded, segs


def check_against_reference(project: Path, db: Path, tables, segment_id: str) -> dict[str, tuple[set, int]]:
    """Run the new segment (and its generated children) on DuckDB and compare with the reference
    evaluator; returns id -> (members, rows of the entity)."""
    loaded, segs = new_segments(project, segment_id)
    ref = Reference(loaded.model, tables, REF_DAY)
    out = {}
    for s in segs:
        got = members(project, db, s.id)
        want = ref.members(s.entity, s.condition)
        assert got == want, f"{s.id}: DuckDB {sorted(got)} != reference {sorted(want)}"
        out[s.id] = (got, len(tables[loaded.model.entity(s.entity).table]))
    return out


# ---------------------------------------------------------------------------------------------
# The library


def test_at_least_24_templates_and_the_required_ones() -> None:
    assert len(NAMES) >= 24, NAMES
    missing = {need: name for need, name in REQUIRED.items() if name not in NAMES}
    assert not missing


def test_every_template_is_described_and_typed() -> None:
    for t in templates():
        assert t.description and "\n" not in t.description, t.name
        entity = t.param("entity")
        assert entity is not None and entity.type == "entity" and entity.default in ("customer", "lead"), t.name
        for p in t.params:
            assert p.help.strip(), (t.name, p.name)
            assert coerce(p, p.default_text) == p.default, (t.name, p.name)
        # fields, relations and the entity come from parameters, never written into the body
        body = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", t.source.split("#}", 1)[1], flags=re.S)
        body = re.sub(rf"^({'|'.join(SEGMENT_KEYS)}):", "", body, flags=re.M)  # the segment's own keys
        for p in t.params:
            if p.type in ("entity", "relation", "field"):
                assert not re.search(rf"\b{p.default}\b", body), f"{t.name}: '{p.default}' is written into the body"


def test_non_default_table_covers_every_template() -> None:
    assert set(NON_DEFAULT) == set(NAMES)
    for name, values in NON_DEFAULT.items():
        t = get_template(name)
        changed = [v for v in values if t.param(v.split("=")[0]).default_text != v.split("=", 1)[1]]
        assert changed, f"{name}: no value differs from its default"


@pytest.mark.parametrize("name", NAMES)
def test_defaults_validate_run_and_match_the_reference(name: str, project: Path, warehouse_file: Path, tables) -> None:
    """`segc new` with the template's own example command line (its defaults), then DuckDB ==
    reference, and a meaningful answer on the fixture day: some members, not every row."""
    args = shlex.split(example_command(get_template(name), "t_new"))[1:]
    result = ok(invoke(*args, "-p", project))
    assert "- id: t_new" in result.stdout
    assert (project / "segments" / "t_new.yml").is_file()
    ok(invoke("validate", "-p", project))
    found = check_against_reference(project, warehouse_file, tables, "t_new")
    got, rows = found.pop("t_new")
    if name == "split_by_field":
        # every member by design; the children split them: a partition with several parts
        assert len(got) == rows
        parts = [m for m, _ in found.values()]
        assert set().union(*parts) == got and sum(len(p) for p in parts) == rows
        assert sum(1 for p in parts if p) >= 3
    else:
        assert 0 < len(got) < rows, f"{name}: {len(got)} of {rows} rows on {AS_OF}"
    if name == "vip_by_country":
        assert sum(1 for m, _ in found.values() if m) >= 5  # children per country


@pytest.mark.parametrize("name", NAMES)
def test_changed_parameters_validate_and_run(name: str, project: Path, warehouse_file: Path, tables) -> None:
    t = get_template(name)
    default_text = render_item(t, t.defaults, "t_changed")
    result = ok(invoke("new", "t_changed", "-p", project, "--template", name, *sets(NON_DEFAULT[name])))
    assert result.stdout != default_text, "the changed values change the segment"
    check_against_reference(project, warehouse_file, tables, "t_changed")


@pytest.mark.parametrize("name", sorted(SAME_AS_EXAMPLE))
def test_templates_restate_the_hand_written_examples(name: str, project: Path, warehouse_file: Path) -> None:
    values, example_id = SAME_AS_EXAMPLE[name]
    ok(invoke("new", "t_same", "-p", project, "--template", name, *sets(values)))
    assert members(project, warehouse_file, "t_same") == members(project, warehouse_file, example_id)
    _, segs = new_segments(project, "t_same")
    for child in segs[1:]:  # split_by children, value by value
        assert members(project, warehouse_file, child.id) == members(
            project, warehouse_file, child.id.replace("t_same", example_id, 1))


def test_rank_not_contacted_boundaries(project: Path, warehouse_file: Path) -> None:
    """The fixture's hand-placed A-rank customers (fixtures/warehouse/README.md): last contact
    30 days ago at either end of the day is in, 29 days ago is out, never contacted is in."""
    ok(invoke("new", "a30", "-p", project, "-t", "rank_not_contacted"))
    got = members(project, warehouse_file, "a30")
    assert {36, 39, 38} <= got
    assert not {37, 40} & got


# ---------------------------------------------------------------------------------------------
# Values: coercion and safe rendering


@pytest.mark.parametrize(("template", "param", "text", "value"), [
    ("created_recently", "days", " 45 ", 45),
    ("big_spenders", "min_revenue", "1234.50", Decimal("1234.50")),
    ("rank_in_region", "rank", " B ", "B"),
    ("interested_in_tag", "tags", "vip, ,trade_show,", ["vip", "trade_show"]),
    ("dormant_customers", "include_never", "No", False),
    ("created_between", "first", "today  -  3 months", "today - 3 months"),
    ("created_between", "first", "2024-02-29", "2024-02-29"),
    ("dormant_customers", "within", "2  quarters", "2 quarters"),
    ("new_this_month", "period", "last_year", "last_year"),
    ("recent_deal_interested", "tags_field", "", None),
])
def test_coerce(template: str, param: str, text: str, value) -> None:
    assert coerce(get_template(template).param(param), text) == value


@pytest.mark.parametrize(("template", "param", "text", "needle"), [
    ("created_recently", "days", "abc", "whole number"),
    ("created_recently", "days", "0", "at least 1"),
    ("created_recently", "days", "3.5", "whole number"),
    ("big_spenders", "min_revenue", "1e5", "is a number"),
    ("rank_in_region", "rank", "  ", "needs a value"),
    ("interested_in_tag", "tags", " , ", "at least one value"),
    ("dormant_customers", "include_never", "maybe", "true or false"),
    ("created_between", "first", "2024-02-30", "not a calendar date"),
    ("created_between", "first", "yesterday", "not a date"),
    ("dormant_customers", "within", "90", "not a duration"),
    ("dormant_customers", "within", "3 fortnights", "unknown unit"),
    ("new_this_month", "period", "this_mnth", "not a choice"),
    ("rank_not_contacted", "contact_field", "Last-Contact", "not a name"),
    ("rank_not_contacted", "contact_field", "", "needs a value"),
])
def test_coerce_rejects(template: str, param: str, text: str, needle: str) -> None:
    with pytest.raises(ParamError, match=needle):
        coerce(get_template(template).param(param), text)


def plain(node):
    """segc's YAML tree as plain data: scalars as their text (no type guesses)."""
    if isinstance(node, YMap):
        return {k.text: plain(v) for k, v in node.items}
    if isinstance(node, YSeq):
        return [plain(v) for v in node.items]
    assert isinstance(node, YScalar)
    return node.text


TRICKY = ["NO", "yes", "007", "2024-01-01", "a: b", "x\ny: 1", "- item", "#c", "[1, 2]", "{a: 1}", "it's",
          'say "hi"', "back\\slash", "  padded ", "", "~", "null", "*alias", "&anchor", "!tag", "%", "@at",
          "`tick", "|", ">", "a #b", "tab\there", "\u2028line", "\x85nel", "\x00nul", "株式会社", "100% Organic",
          "30 days", "A-rank customers not contacted for 30+ days", "emoji \U0001F600"]


@pytest.mark.parametrize("text", TRICKY)
def test_yaml_scalar_is_one_scalar_in_block_and_flow(text: str) -> None:
    scalar = yaml_scalar(text)
    docs = [(f"k: {scalar}\n", lambda d: d["k"]),
            (f"k: {{a: {scalar}}}\n", lambda d: d["k"]["a"]),
            (f"k: [{scalar}, z]\n", lambda d: d["k"][0])]
    for doc, pick in docs:
        assert pick(plain(parse_yaml(doc.encode("utf-8"), "t.yml"))) == text, doc  # as segc reads it
        assert pick(yaml.safe_load(doc)) == text, doc  # and as any YAML reader does


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_yaml_scalar_property(text: str) -> None:
    doc = f"k: {yaml_scalar(text)}\nl: [{yaml_scalar(text)}, {yaml_scalar([text, 'x'])}]\n"
    assert yaml.safe_load(doc) == {"k": text, "l": [text, [text, "x"]]}


def test_yaml_scalar_other_values() -> None:
    assert yaml_scalar(True) == "true" and yaml_scalar(30) == "30"
    assert yaml_scalar(Decimal("1E+4")) == "10000"
    assert yaml_scalar(["A", "NO"]) == '[A, "NO"]'
    with pytest.raises(TypeError):
        yaml_scalar({"a": 1})
    with pytest.raises(TypeError):
        yaml_scalar(None)


def test_a_value_cannot_inject_yaml_structure(project: Path, warehouse_file: Path) -> None:
    """A string parameter holding YAML syntax stays one value of the condition it fills."""
    evil = 'x", scope: personal, owner: "y\nchildren: []'
    ok(invoke("new", "evil", "-p", project, "-t", "neglected_by_owner", "--set", f"owner={evil}"))
    spec = yaml.safe_load((project / "segments" / "evil.yml").read_text(encoding="utf-8"))["segments"][0]
    assert set(spec) == {"id", "name", "entity", "where"}
    assert spec["where"]["owner"] == evil.replace("\\n", "\n")
    loaded, _ = load_project(project)
    assert loaded.segment("evil").scope.value == "company"
    assert members(project, warehouse_file, "evil") == set()


# ---------------------------------------------------------------------------------------------
# segc new: files


def test_new_creates_segments_id_yml(project: Path) -> None:
    result = ok(invoke("new", "dormant", "-p", project, "--template", "dormant_customers", "--set", "within=60 days"))
    path = project / "segments" / "dormant.yml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "\nsegments:\n" in text
    assert "created" in result.stderr and "dormant.yml" in result.stderr
    spec = yaml.safe_load(text)["segments"]
    assert len(spec) == 1 and spec[0]["id"] == "dormant" and spec[0]["entity"] == "customer"
    assert spec[0]["where"]["any"][0] == {"last_deal_at": {"at_least_ago": "60 days"}}
    ok(invoke("validate", "-p", project))


def test_new_appends_to_a_commented_file_keeping_every_byte(project: Path) -> None:
    path = project / "segments" / "seed_examples.yml"
    before = path.read_bytes()
    assert b"# The seed's examples" in before
    ok(invoke("new", "sea_a", "-p", project, "-t", "rank_in_region", "--set", "rank=A",
              "--file", "segments/seed_examples.yml"))
    after = path.read_bytes()
    assert after.startswith(before)
    added = after[len(before):].decode("utf-8")
    assert added.startswith("\n  # from template rank_in_region\n  - id: sea_a\n"), added  # a blank line, like the others
    ok(invoke("new", "sea_b", "-p", project, "-t", "rank_in_region", "--set", "rank=B",
              "--file", "segments/seed_examples.yml"))
    assert path.read_bytes().startswith(after)
    ids = [s["id"] for s in yaml.safe_load(path.read_text(encoding="utf-8"))["segments"]]
    assert ids[-2:] == ["sea_a", "sea_b"] and len(ids) == 10
    assert not (project / "segments" / "sea_a.yml").exists()
    ok(invoke("validate", "-p", project))


def test_new_file_path_from_the_working_folder(project: Path) -> None:
    ok(invoke("new", "k1", "-p", project, "-t", "key_accounts", "--file", project / "segments" / "team.yml"))
    assert "k1" in [s["id"] for s in yaml.safe_load((project / "segments" / "team.yml").read_text())["segments"]]


def item(indent: str) -> str:
    t = get_template("key_accounts")
    return render_item(t, t.defaults, "k", indent)


@pytest.mark.parametrize(("old", "kept"), [
    (b"segments:\n- id: a\n  where: {rank: A}\n", True),                        # indentless list
    (b"segments:\n  - id: a\n    where: {rank: A}", True),                      # no final newline
    (b"\xef\xbb\xbf# bom\nsegments:\n  - id: a\n", True),                       # byte order mark
    (b"segments:\r\n  - id: a\r\n  - id: b\r\n# end\r\n", True),                # CRLF, trailing comment
    (b"segments:\n    -   id: a\n\n    -   id: b\n", True),                     # wide indent, blank lines
    (b"# flow\nsegments: [{id: a}]  # keep me\n", False),                       # rewritten by ruamel
    (b"segments:\n# none yet\n", False),
    (b"segments: []\n", False),
])
def test_appended_text(old: bytes, kept: bool) -> None:
    new = appended(old, item, "# header\n")
    assert new is not None
    if kept:
        assert new.startswith(old if old.endswith(b"\n") else old + (b"\r\n" if b"\r\n" in old else b"\n"))
        if b"\r\n" in old:
            assert new.count(b"\n") == new.count(b"\r\n")
    for comment in (b"# flow", b"# keep me", b"# none yet", b"# bom", b"# end"):
        assert (comment in new) == (comment in old)
    text = new.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    before = yaml.safe_load(old.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))["segments"] or []
    assert yaml.safe_load(text)["segments"] == before + [yaml.safe_load(item(""))[0]]


def test_appended_blank_line_only_where_the_file_has_them() -> None:
    spaced = b"segments:\n  - id: a\n\n  - id: b\n"
    tight = b"segments:\n  - id: a\n  - id: b\n"
    assert appended(spaced, item, "")[len(spaced):].startswith(b"\n  # from template")
    assert appended(tight, item, "")[len(tight):].startswith(b"  # from template")


def test_new_into_a_flow_list_keeps_the_data(project: Path) -> None:
    path = project / "segments" / "flow.yml"
    path.write_text("# flow style\nsegments: [{id: f1, entity: customer, where: {rank: A}}]\n", encoding="utf-8")
    ok(invoke("new", "f2", "-p", project, "-t", "key_accounts", "--file", "segments/flow.yml"))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# flow style\n")
    assert [s["id"] for s in yaml.safe_load(text)["segments"]] == ["f1", "f2"]


def test_new_fixes_an_empty_segments_file(project: Path) -> None:
    """A file holding only `segments:` makes the project invalid; adding the first segment to it
    makes it valid, so that is allowed."""
    path = project / "segments" / "empty.yml"
    path.write_text("# to fill\nsegments:\n", encoding="utf-8")
    assert invoke("validate", "-p", project).exit_code == 1
    ok(invoke("new", "first", "-p", project, "-t", "key_accounts", "--file", "segments/empty.yml"))
    assert path.read_text(encoding="utf-8").startswith("# to fill\n")
    ok(invoke("validate", "-p", project))


# ---------------------------------------------------------------------------------------------
# segc new: errors leave every file as it was


BAD = {
    "unknown template": (["x1", "--template", "dormant_customer"], ["no template 'dormant_customer'", "did you mean dormant_customers?"]),
    "unknown parameter": (["x1", "-t", "rank_not_contacted", "--set", "dayz=3"], ["--set:", "has no parameter 'dayz'", "did you mean days?"]),
    "wrong type": (["x1", "-t", "rank_not_contacted", "--set", "days=abc"], ["--set:", "'days' is a whole number, not 'abc'"]),
    "not positive": (["x1", "-t", "rank_not_contacted", "--set", "days=0"], ["at least 1"]),
    "bad duration": (["x1", "-t", "dormant_customers", "--set", "within=90"], ["not a duration", "write 90 days"]),
    "bad choice": (["x1", "-t", "new_this_month", "--set", "period=this_mont"], ["not a choice", "did you mean this_month?"]),
    "no equals sign": (["x1", "-t", "rank_not_contacted", "--set", "days"], ["--set 'days' has no '='", "KEY=VALUE"]),
    "set twice": (["x1", "-t", "rank_not_contacted", "--set", "days=3", "--set", "days=4"], ["set twice"]),
    "unknown field": (["x1", "-t", "rank_not_contacted", "--set", "contact_field=last_contact"],
                      ["'customer' has no field 'last_contact'", "did you mean last_contact_at?"]),
    "field of the wrong type": (["x1", "-t", "rank_not_contacted", "--set", "contact_field=name"],
                                ["takes a date or timestamp field", "'name' of 'customer' is string"]),
    "field of a related entity": (["x1", "-t", "won_back", "--set", "date_field=ordered"],
                                  ["'order' has no field 'ordered'", "did you mean ordered_at?"]),
    "unknown relation": (["x1", "-t", "never_ordered", "--set", "orders=order"],
                         ["no has_many relation 'order'", "did you mean orders?"]),
    "unknown entity": (["x1", "-t", "key_accounts", "--set", "entity=leed"], ["no entity 'leed'", "did you mean lead?"]),
    "default field missing on another entity": (["x1", "-t", "key_accounts", "--set", "entity=lead"],
                                                ["--template:", "'lead' has no field 'is_key_account'", "--set flag_field="]),
    "value not of the enum": (["x1", "-t", "rank_in_region", "--set", "rank=Z"], ["'Z' is not a value of 'rank'"]),
    "value close to the enum": (["x1", "-t", "rank_in_region", "--set", "region=south_east_asia"],
                                ["did you mean southeast_asia?"]),
    "duplicate id": (["vip", "-t", "key_accounts"], ["segments/team.yml:", "segment 'vip' already exists"]),
    "duplicate generated id": (["vip_dormant", "-t", "key_accounts"], ["segment 'vip_dormant' already exists"]),
    "invalid id": (["Bad-Id", "-t", "key_accounts"], ["ID:", "not a valid id"]),
    "reserved id": (["a__b", "-t", "key_accounts"], ["not a valid id"]),
    "file outside segments/": (["x1", "-t", "key_accounts", "--file", "other/x.yml"], ["--file:", "segments/x.yml"]),
    "file not yml": (["x1", "-t", "key_accounts", "--file", "segments/x.txt"], ["not a segment file"]),
    "rendered segment invalid": (["x1", "-t", "recent_deal_interested", "--set", "tags_field=", "--set", "interest_field="],
                                 ["segments/x1.yml:", "'any' must be a list", "made from template recent_deal_interested, not written"]),
    "rendered keys collide": (["x1", "-t", "rank_in_region", "--set", "rank_field=region", "--set", "region_field=region",
                               "--set", "rank=europe"], ["duplicate key 'region'", "not written"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_new_rejects_bad_input_and_writes_nothing(case: str, project: Path) -> None:
    args, needles = BAD[case]
    before = digest(project)
    result = invoke("new", *args, "-p", project)
    failed(result, *needles)
    assert digest(project) == before


def test_new_when_the_project_is_broken(project: Path) -> None:
    (project / "segc.yml").write_text("version: 1\nentities: {}\n", encoding="utf-8")
    before = digest(project)
    failed(invoke("new", "x", "-p", project, "-t", "key_accounts"), "segc.yml")
    assert digest(project) == before


def test_new_without_template_is_a_usage_error(project: Path) -> None:
    result = invoke("new", "x", "-p", project)
    assert result.exit_code == 2 and "--template" in result.stderr


# ---------------------------------------------------------------------------------------------
# segc templates list / show


def test_templates_list_table() -> None:
    out = ok(invoke("templates", "list")).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["TEMPLATE", "ENTITY", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == NAMES
    assert any(line.split()[:2] == ["leads_missing_country", "lead"] for line in lines)


def test_templates_list_json() -> None:
    data = json.loads(ok(invoke("templates", "list", "--format", "json")).stdout)
    assert [t["name"] for t in data] == NAMES
    won_back = next(t for t in data if t["name"] == "won_back")
    assert won_back["entity"] == "customer" and won_back["description"]
    params = {p["name"]: p for p in won_back["parameters"]}
    assert params["recent"] == {"name": "recent", "type": "duration", "default": "90 days", "help": params["recent"]["help"]}
    assert params["date_field"]["of"] == "orders" and params["date_field"]["field_types"] == ["date", "timestamp"]


def test_templates_show_text() -> None:
    out = ok(invoke("templates", "show", "rank_not_contacted")).stdout
    assert out.startswith("rank_not_contacted: ")
    assert "days" in out and "int >= 1" in out and "30" in out
    example = next(line.strip() for line in out.splitlines() if line.strip().startswith("segc new "))
    assert "--template rank_not_contacted" in example
    yaml_part = out.split("segment (with these values):\n", 1)[1]
    seg = yaml.safe_load(yaml_part)[0]
    assert seg["where"]["rank"] == "A" and seg["entity"] == "customer"


def test_templates_show_json_and_set() -> None:
    data = json.loads(ok(invoke("templates", "show", "rank_not_contacted", "--format", "json",
                                "--set", "rank=B", "--set", "days=60")).stdout)
    assert data["name"] == "rank_not_contacted" and data["example"].startswith("segc new ")
    assert {p["name"] for p in data["parameters"]} >= {"entity", "rank", "days"}
    assert data["segment"]["where"]["rank"] == "B"
    assert data["segment"]["where"]["any"][0] == {"last_contact_at": {"at_least_ago": "60 days"}}
    assert yaml.safe_load(data["yaml"])[0] == data["segment"]


def test_templates_show_errors() -> None:
    r = invoke("templates", "show", "dormnt_customers")
    assert r.exit_code == 1 and "did you mean dormant_customers?" in r.stderr
    r = invoke("templates", "show", "dormant_customers", "--set", "within=soon")
    assert r.exit_code == 1 and "not a duration" in r.stderr


@pytest.mark.parametrize("command", [["new"], ["templates"], ["templates", "list"], ["templates", "show"]])
def test_help_has_an_example(command: list[str]) -> None:
    out = ok(invoke(*command, "--help")).stdout
    assert "Example:" in out


def test_every_example_command_in_help_runs(project: Path) -> None:
    """The `segc new` lines of `segc new --help` work as written (on a copy of the example)."""
    out = ok(invoke("new", "--help")).stdout
    lines = [line.strip() for line in out.split("Example:", 1)[1].splitlines() if line.strip().startswith("segc new")]
    assert len(lines) == 2
    for line in lines:
        args = shlex.split(line)[2:]
        i = args.index("-p")
        args[i + 1] = str(project)
        ok(invoke("new", *args))
    ok(invoke("validate", "-p", project))
