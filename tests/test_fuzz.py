"""Mutation fuzzing of the example project (fixtures/example): whatever the bytes, segc answers.

Each mutant is segc.yml plus one segment file of the example, with one to four mutations applied
to one of them: lines deleted, duplicated or swapped, indentation changed, a scalar replaced by
another scalar, a list, a mapping or null, unicode or control characters inserted, the file
truncated, a bit flipped, a key replaced by a near miss, a number made huge, negative or
fractional, a value wrapped in quotes, YAML syntax spliced in. `segc validate` and
`segc compile --dialect duckdb` run on it in-process, and:

- both exit 0 or 1 (never 2, 3 or an uncaught exception), and agree with each other;
- there is no "Traceback" and no "internal error" in any output;
- on exit 1, every stderr line is `FILE:LINE:COL: error|warning: MESSAGE`, its `  hint:` line or
  the summary, and holds no control characters;
- on exit 0, compile prints SQL that sqlglot parses back (DuckDB) as CREATE VIEW statements only.

`test_mutant` is derandomised: seeds 0..N-1, N = 300 or $SEGC_FUZZ_EXAMPLES. A failure names its
seed and shows the mutated lines, so `pytest tests/test_fuzz.py -k 'test_mutant[SEED]'` replays it.
`test_mutant_hypothesis` draws the mutations through hypothesis (derandomised too).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlglot
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from segc.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fixtures" / "example"
SEGMENT_FILES = tuple(sorted(p.relative_to(EXAMPLE).as_posix() for p in (EXAMPLE / "segments").glob("*.yml")))
SOURCES: dict[str, bytes] = {rel: (EXAMPLE / rel).read_bytes() for rel in ("segc.yml", *SEGMENT_FILES)}
EXAMPLES = int(os.environ.get("SEGC_FUZZ_EXAMPLES", "300"))

DIAG_RE = re.compile(r"^[^:]+:\d+:\d+: (error|warning): ")
SUMMARY_RE = re.compile(r"^segc: \d+ errors?; nothing was written$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# ------------------------------------------------------------------------------------------------
# What mutations draw from

WORDS = (
    # keys of segc.yml and of segment files
    "version", "target", "dialect", "schema", "view_prefix", "timezone", "entities", "label", "table",
    "key", "owner", "fields", "relations", "type", "values", "column", "json", "path", "aggregate",
    "relation", "of", "where", "has_many", "belongs_to", "foreign_key", "segments", "id", "name",
    "description", "entity", "scope", "split_by", "children",
    # condition words and operators
    "all", "any", "not", "has", "count", "is_empty", "=", "!=", ">", ">=", "<", "<=", "in", "not_in",
    "between", "contains", "not_contains", "starts_with", "ends_with", "in_period", "within_last",
    "at_least_ago", "within_next", "at_least_ahead", "contains_any", "contains_all", "contains_none",
    # names of the example
    "customer", "lead", "order", "contact", "country", "rank", "region", "orders", "contacts",
    "home_country", "won_orders", "last_deal_at", "tags", "deal_total", "created_at", "status",
    "string", "enum", "number", "boolean", "date", "timestamp", "string_list", "count_distinct", "sum",
    "min", "max", "avg", "company", "personal", "tanaka", "duckdb", "postgres", "spark", "UTC",
    "Asia/Tokyo", "this_quarter", "last_week", "today",
)
SCALARS = (
    "", "~", "null", "true", "false", "yes", "NO", "0", "-1", "007", "1e309", "-1e309",
    "99999999999999999999999999999999999999", "3.14", "-0", ".nan", ".inf", "0x1F", "2024-02-30",
    "2024-03-13", "0000-01-01", "9999-12-31", "today - 3 days", "today + 99999 years",
    "today - 999999999 days", "9999999999 days", "2147483648 months", "0 days", "30 dayz", "1.5 weeks",
    "A", "Z", "a", "'", '"', "\\", "''", '""', "'; DROP TABLE crm.customers; --", '"\\0"',
    '"\\ud800"', '"\\x1b[31m"', '"\\n"', '"a\\u2028b"', "日本語", "🚀", "a b", "a: b", "- x", "? x",
    "*x", "&x v", "!foo x", "!!python/object:os.system x", "!!str 1", "|", ">", "%", "@", "`",
    "#", "[]", "{}", "[A, B]", "[[[]]]", "{a: 1}", "{rank: A}", "[A, {b: c}]", "{}: x",
)
NUMBERS = ("0", "-1", "-999999999999", "1.5", "-0.0", "1e400", "99999999999999999999999999999999",
           "2147483648", "9223372036854775808", "00", "1_000", "+7", ".5", "0x10", "1e-400")
INSERTS = (
    "\u200b", "\u202e", "\ufeff", "\u2028", "\u0085", "\u00a0", "e\u0301", "👩‍👩‍👧", "\ud7ff", "\uffff",
    "\U0010ffff", "\x00", "\x01", "\x1b[2J", "\x7f", "\x9b", "\t", "\r", "\r\n", "\n", "\n\n", " ",
    ": ", "- ", "-", "#", "&a ", "*a", "<<: *a\n", "!x ", "!!binary ", "---\n", "...\n", "? ",
    "|\n", ">-\n", "{", "}", "[", "]", ",", "'", '"', "\\", "%YAML 1.1\n", "@", "`", "\\u0000",
)
BYTES = (b"\xff", b"\xfe", b"\x00", b"\xc3", b"\xe3\x81", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\xc0\xaf",
         b"\x80", b"\xf4\x90\x80\x80", b"\r", b"\x85")
INDENTS = ("+1", "-1", "+2", "-2", "+4", "tab", "zero")
QUOTES = ('"', "'", 'open"', "open'", "close'")

TEXT_OPS = ("delete_line", "duplicate_line", "swap_lines", "indent", "replace_token", "replace_value",
            "near_miss_key", "number", "quote", "insert_text", "splice_line", "swap_word")
BYTE_OPS = ("truncate", "flip_bit", "insert_bytes")
OPS = TEXT_OPS + BYTE_OPS


@dataclass(frozen=True)
class Mutation:
    op: str
    a: float  # where, as a fraction of the candidates
    b: float  # a second choice (another line, a bit, a variant)
    payload: str | bytes

    def __str__(self) -> str:
        return f"{self.op}(a={self.a:.3f}, b={self.b:.3f}, payload={self.payload!r})"


# ------------------------------------------------------------------------------------------------
# Applying mutations: text is handled as UTF-8 with surrogateescape, so earlier byte damage survives


def _pick(seq, frac: float):
    return seq[min(int(frac * len(seq)), len(seq) - 1)]


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").split("\n")


def _join(lines: list[str]) -> bytes:
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def _spans(text: str, pattern: str) -> list[re.Match]:
    return list(re.finditer(pattern, text))


def _replace_span(data: bytes, pattern: str, frac: float, new) -> bytes:
    text = data.decode("utf-8", "surrogateescape")
    spans = _spans(text, pattern)
    if not spans:
        return data
    m = _pick(spans, frac)
    repl = new(m.group(0)) if callable(new) else new
    return (text[:m.start()] + repl + text[m.end():]).encode("utf-8", "surrogatepass" if _has_surrogate(repl) else "surrogateescape")


def _has_surrogate(s: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF and not 0xDC80 <= ord(c) <= 0xDCFF for c in s)


def _near_miss(word: str, b: float, payload: str) -> str:
    variant = int(b * 6)
    if not word:
        return payload
    i = min(int(b * 997) % len(word), len(word) - 1)
    if variant == 0:
        return word[:i] + word[i + 1:]  # drop a character
    if variant == 1:
        return word[:i] + word[i] + word[i:]  # double one
    if variant == 2 and len(word) > 1:
        j = min(i, len(word) - 2)
        return word[:j] + word[j + 1] + word[j] + word[j + 2:]  # swap two
    if variant == 3:
        return word.upper() if word.islower() else word.lower()
    if variant == 4:
        return word + "s"
    return payload if payload else word  # another known word


KEY_RE = r"(?m)(?<=[\s{,\-])[A-Za-z_=!<>\"']+(?=:(\s|$))"
TOKEN_RE = r"[^\s,:{}\[\]#]+"
VALUE_RE = r"(?<=: )[^\s,{}\[\]#][^,{}\[\]#\n]*|(?<=[\[,] )[^\s,{}\[\]#]+|(?<=\[)[^\s,{}\[\]#]+"


def apply(data: bytes, m: Mutation, others: tuple[bytes, ...] = ()) -> bytes:
    op, a, b, payload = m.op, m.a, m.b, m.payload
    if op in ("delete_line", "duplicate_line", "swap_lines", "indent", "splice_line"):
        lines = _lines(data)
        i = min(int(a * len(lines)), len(lines) - 1)
        if op == "delete_line":
            del lines[i]
        elif op == "duplicate_line":
            lines.insert(i, lines[i])
        elif op == "swap_lines":
            j = min(int(b * len(lines)), len(lines) - 1)
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "splice_line":
            source = _lines(others[int(b * len(others)) % len(others)]) if others else lines
            lines.insert(i, _pick(source, (b * 7919) % 1))
        else:
            body = lines[i].lstrip(" ")
            width = len(lines[i]) - len(body)
            new = {"+1": width + 1, "-1": width - 1, "+2": width + 2, "-2": width - 2, "+4": width + 4,
                   "zero": 0}.get(str(payload))
            lines[i] = ("\t" + lines[i]) if new is None else " " * max(new, 0) + body
        return _join(lines)
    if op == "replace_token":
        return _replace_span(data, TOKEN_RE, a, str(payload))
    if op == "replace_value":
        return _replace_span(data, VALUE_RE, a, str(payload))
    if op == "swap_word":
        return _replace_span(data, r"[a-z_]{2,}|[=!<>]=?", a, str(payload))
    if op == "near_miss_key":
        return _replace_span(data, KEY_RE, a, lambda w: _near_miss(w, b, str(payload)))
    if op == "number":
        return _replace_span(data, r"\d+(\.\d+)?", a, str(payload))
    if op == "quote":
        q = str(payload)

        def wrap(w: str) -> str:
            if q.startswith("open"):
                return q[-1] + w
            if q.startswith("close"):
                return w + q[-1]
            return q + w.replace("\\", "\\\\").replace(q, "\\" + q if q == '"' else q + q) + q

        return _replace_span(data, VALUE_RE, a, wrap)
    if op == "insert_text":
        text = data.decode("utf-8", "surrogateescape")
        i = int(a * (len(text) + 1)) if text else 0
        i = min(i, len(text))
        return (text[:i] + str(payload) + text[i:]).encode("utf-8", "surrogatepass" if _has_surrogate(str(payload)) else "surrogateescape")
    if op == "truncate":
        return data[:int(a * len(data))]
    if op == "flip_bit":
        if not data:
            return data
        i = min(int(a * len(data)), len(data) - 1)
        return data[:i] + bytes([data[i] ^ (1 << int(b * 8) % 8)]) + data[i + 1:]
    if op == "insert_bytes":
        i = min(int(a * (len(data) + 1)), len(data))
        raw = payload if isinstance(payload, bytes) else str(payload).encode("utf-8", "surrogatepass")
        return data[:i] + raw + data[i:]
    raise AssertionError(op)


def random_mutation(rng: random.Random) -> Mutation:
    op = rng.choice(OPS)
    a, b = rng.random(), rng.random()
    payload: str | bytes = {
        "indent": lambda: rng.choice(INDENTS),
        "replace_token": lambda: rng.choice(SCALARS + WORDS),
        "replace_value": lambda: rng.choice(SCALARS),
        "swap_word": lambda: rng.choice(WORDS),
        "near_miss_key": lambda: rng.choice(WORDS),
        "number": lambda: rng.choice(NUMBERS),
        "quote": lambda: rng.choice(QUOTES),
        "insert_text": lambda: rng.choice(INSERTS) if rng.random() < 0.7 else
        "".join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0xa0, 0x3000),
                                rng.randrange(0x1f300, 0x1f600), rng.randrange(0, 0x20)]))
                for _ in range(rng.randint(1, 4))),
        "insert_bytes": lambda: rng.choice(BYTES),
    }.get(op, lambda: "")()
    return Mutation(op, a, b, payload)


@dataclass(frozen=True)
class Mutant:
    segment_file: str
    target: str
    mutations: tuple[Mutation, ...]

    def files(self) -> dict[str, bytes]:
        files = {"segc.yml": SOURCES["segc.yml"], self.segment_file: SOURCES[self.segment_file]}
        others = tuple(v for k, v in SOURCES.items() if k != self.target)
        data = files[self.target]
        for m in self.mutations:
            data = apply(data, m, others)
        files[self.target] = data
        return files

    def describe(self, files: dict[str, bytes]) -> str:
        before = SOURCES[self.target].decode("utf-8", "replace").splitlines()
        after = files[self.target].decode("utf-8", "replace").splitlines()
        diff = "\n".join(difflib.unified_diff(before, after, self.target, self.target + " (mutant)", lineterm="", n=1))
        ops = "\n".join(f"  {m}" for m in self.mutations)
        return f"mutant of {self.target} (with {self.segment_file}):\n{ops}\n{diff}\nbytes: {files[self.target]!r}"[:6000]


def seeded_mutant(seed: int) -> Mutant:
    rng = random.Random(seed)
    seg = rng.choice(SEGMENT_FILES)
    target = "segc.yml" if rng.random() < 0.4 else seg
    n = rng.choice((1, 1, 1, 2, 2, 3, 4))
    return Mutant(seg, target, tuple(random_mutation(rng) for _ in range(n)))


# ------------------------------------------------------------------------------------------------
# Running segc on a mutant

_PARSED: dict[str, bool] = {}  # SQL chunks already read back: most views are the same in every mutant


def _check(condition: object, message: object = None) -> None:
    """An assertion whose failure shows only its message (the inputs here are long)."""
    if not condition:
        raise AssertionError(message if message is not None else "check failed")


def _parse_back(sql: str) -> None:
    chunks = re.split(r"\n(?=-- generated by segc from )", sql)
    for chunk in chunks:
        if chunk in _PARSED:
            continue
        statements = [s for s in sqlglot.parse(chunk, read="duckdb") if s is not None]
        _check(statements, f"no statement in:\n{chunk[:2000]}")
        for s in statements:
            _check(isinstance(s, exp.Create) and str(s.args.get("kind")).upper() == "VIEW", (
                f"not a CREATE VIEW statement: {s.sql()[:300]}"))
        _PARSED[chunk] = True


def _code(result: Result, what: str) -> int:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        raise AssertionError(f"{what} raised:\n" + "".join(traceback.format_exception(result.exception)))
    return result.exit_code


def _check_output(result: Result, code: int, what: str) -> None:
    text = result.output + result.stderr
    _check("Traceback" not in text, f"{what} printed a traceback:\n{text[-3000:]}")
    _check("internal error" not in text, f"{what}: {result.stderr[-3000:]}")
    _check(code in (0, 1), f"{what} exited {code}:\n{result.output[-3000:]}")
    if code == 1:
        _check(result.stderr.strip(), f"{what} exited 1 without saying why")
        for line in result.stderr.split("\n"):
            if not line:
                continue
            _check(DIAG_RE.match(line) or line.startswith("  hint: ") or SUMMARY_RE.match(line), (
                f"{what}: stray stderr line {line!r}:\n{result.stderr[-3000:]}"))
            _check(not CONTROL_RE.search(line), f"{what}: control character in {line!r}")


def run_mutant(mutant: Mutant, workdir: Path, as_of: bool) -> None:
    files = mutant.files()
    proj = workdir / "proj"
    shutil.rmtree(proj, ignore_errors=True)
    for rel, data in files.items():
        path = proj / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    try:
        with contextlib.chdir(workdir):
            runner = CliRunner()
            validate = runner.invoke(main, ["validate", "-p", "proj"])
            v = _code(validate, "validate")
            _check_output(validate, v, "validate")
            args = ["compile", "-p", "proj", "--dialect", "duckdb"] + (["--as-of", "2024-03-13"] if as_of else [])
            compiled = runner.invoke(main, args)
            c = _code(compiled, "compile")
            _check_output(compiled, c, "compile")
            _check(v == c, f"validate exited {v} but compile exited {c}:\n{compiled.stderr[-3000:]}")
            if c == 0:
                _check(compiled.stdout.strip(), "compile succeeded without printing SQL")
                _parse_back(compiled.stdout)
            else:
                _check(compiled.stdout == "", "compile printed SQL for an invalid project")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n\n{mutant.describe(files)}") from None


# ------------------------------------------------------------------------------------------------
# The tests


def test_mutations_change_something() -> None:
    """Guards the fuzzer: most mutants differ from the example, and every kind of mutation is drawn."""
    mutants = [seeded_mutant(s) for s in range(300)]
    changed = sum(m.files()[m.target] != SOURCES[m.target] for m in mutants)
    assert changed >= 270, changed
    drawn = {mu.op for m in mutants for mu in m.mutations}
    assert drawn == set(OPS), set(OPS) - drawn
    assert {m.target for m in mutants} == {"segc.yml", *SEGMENT_FILES}


def test_unmutated_example_compiles(tmp_path: Path) -> None:
    """The starting point is valid, so a mutant's failure is the mutation's."""
    run_mutant(Mutant(SEGMENT_FILES[0], "segc.yml", ()), tmp_path, as_of=True)
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(main, ["validate", "-p", "proj"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("seed", range(EXAMPLES))
def test_mutant(seed: int, tmp_path: Path) -> None:
    run_mutant(seeded_mutant(seed), tmp_path, as_of=seed % 2 == 0)


_mutation = st.builds(
    Mutation,
    op=st.sampled_from(OPS),
    a=st.floats(0, 1, exclude_max=True),
    b=st.floats(0, 1, exclude_max=True),
    payload=st.one_of(
        st.sampled_from(SCALARS + WORDS + INSERTS + NUMBERS + INDENTS + QUOTES),
        st.text(max_size=6),
        st.binary(min_size=1, max_size=4),
    ),
)
_mutant = st.builds(
    Mutant,
    segment_file=st.sampled_from(SEGMENT_FILES),
    target=st.sampled_from(("segc.yml", "segment")),
    mutations=st.lists(_mutation, min_size=1, max_size=4).map(tuple),
).map(lambda m: Mutant(m.segment_file, m.segment_file if m.target == "segment" else m.target, m.mutations))


# No shrinking: a failure is reported with its mutations and diff at once, and the run stays short.
@settings(derandomize=True, max_examples=200, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutant=_mutant, as_of=st.booleans())
def test_mutant_hypothesis(mutant: Mutant, as_of: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="segc-fuzz-") as tmp:
        run_mutant(mutant, Path(tmp), as_of)
