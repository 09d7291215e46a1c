"""`segc new`: render a template into a segment file, after checking the whole project with it.

The segment goes to `segments/<ID>.yml` unless `--file` names another `segments/*.yml` file
(relative to the project folder). A new file gets a header comment and `segments:`; an existing
file gets the segment appended to its `segments:` list as text, so every byte already there stays
as it was (comments, quoting, blank lines, line endings). Only a file whose list cannot take a
block item at its end (a flow list `[...]`, an empty `segments:`) is rewritten through ruamel.yaml's
round trip, which keeps comments. Either way the result is read back and must equal the old list
plus the new segment, and the project must load with it (load_project with an in-memory override)
before anything is written; on any error nothing is written.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from segc.compiler.project import display_path, load_model, load_project
from segc.compiler.util import NAME_RE, Checker
from segc.errors import Diagnostic, Pos, SegcError
from segc.templates import check_against_model, get_template, parse_settings, render_item, yaml_scalar

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Added:
    path: Path
    created: bool
    text: str  # the segment as added (YAML, without the file's indentation)
    warnings: list[Diagnostic]


def target_file(project_dir: Path, segment_id: str, file: Path | None) -> Path:
    """Where the segment goes: segments/<ID>.yml, or --file (relative to the project folder, or
    failing that to the working folder), which must be a segments/*.yml file segc reads."""
    folder = (project_dir / "segments").resolve()
    if file is None:
        return project_dir / "segments" / f"{segment_id}.yml"
    candidates = [file] if file.is_absolute() else [project_dir / file, file]
    for c in candidates:
        if c.resolve().parent == folder and c.suffix in (".yml", ".yaml") and not c.is_dir():
            return c
    raise SegcError([Diagnostic(
        "E166", Pos("--file", 0, 0), f"'{file}' is not a segment file of the project",
        f"segc reads segments/*.yml only: e.g. --file segments/{file.stem or segment_id}.yml (relative to the project folder)")])


def _plain(data: bytes) -> Any:
    """The file as plain data, every scalar as text (as segc reads it: no type guesses)."""
    return yaml.load(data.removeprefix(_BOM).decode("utf-8"), Loader=yaml.BaseLoader)


def _append_text(old: bytes, item: Callable[[str], str]) -> bytes | None:
    """The old bytes with the item added at the end of its block `segments:` list, or None when
    the list is not a non-empty block list."""
    bom = _BOM if old.startswith(_BOM) else b""
    try:
        text = old[len(bom):].decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    keys = [k.value if isinstance(k, yaml.ScalarNode) else None for k, _ in root.value]
    if "segments" not in keys:
        return None
    i = keys.index("segments")
    seq = root.value[i][1]
    if not isinstance(seq, yaml.SequenceNode) or not seq.value or text[seq.start_mark.index:seq.start_mark.index + 1] != "-":
        return None
    nl = "\r\n" if "\r\n" in text else "\n"
    if i + 1 < len(root.value):
        mark = root.value[i + 1][0].start_mark
        at = mark.index - mark.column  # the start of the next top-level key's line
    else:
        at = len(text)
    head, tail = text[:at], text[at:]
    if head and not head.endswith(("\n", "\r")):
        head += nl
    sep = nl if _blank_between_items(text, seq) and not head.endswith(nl + nl) else ""
    added = item(" " * seq.start_mark.column).replace("\n", nl)
    return bom + (head + sep + added + tail).encode("utf-8")


def _blank_between_items(text: str, seq: yaml.SequenceNode) -> bool:
    """Whether the file separates its segments with blank lines (above the last item, comments
    attached to it aside)."""
    if len(seq.value) < 2:
        return False
    lines = text.splitlines()
    line = seq.value[-1].start_mark.line - 1
    while line >= 0 and lines[line].lstrip().startswith("#"):
        line -= 1
    return line >= 0 and not lines[line].strip()


def _append_round_trip(old: bytes, item: Callable[[str], str]) -> bytes | None:
    """ruamel.yaml's round trip: for lists the text append cannot extend (flow or empty)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.error import YAMLError

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    try:
        data = y.load(old.removeprefix(_BOM).decode("utf-8"))
        new_item = y.load(item(""))[0]
        if not hasattr(data, "get") or "segments" not in data:
            return None
        if data["segments"] is None or data["segments"] == "":
            data["segments"] = CommentedSeq()
        if not isinstance(data["segments"], list):
            return None
        data["segments"].append(new_item)
        buf = io.StringIO()
        y.dump(data, buf)
    except (YAMLError, UnicodeDecodeError, TypeError, ValueError):
        return None
    return (_BOM if old.startswith(_BOM) else b"") + buf.getvalue().encode("utf-8")


def appended(old: bytes | None, item: Callable[[str], str], header: str) -> bytes | None:
    """The file's new bytes with the item (rendered at an indentation) added, or None if segc
    cannot add it without disturbing the file. The result is checked by reading it back."""
    if old is None:
        return (header + "segments:\n" + item("  ")).encode("utf-8")
    expected_item = _plain(item("").encode("utf-8"))[0]
    try:
        before = _plain(old)
    except (yaml.YAMLError, UnicodeDecodeError):
        return None
    for attempt in (_append_text, _append_round_trip):
        new = attempt(old, item)
        if new is None:
            continue
        try:
            after = _plain(new)
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        if (isinstance(before, dict) and isinstance(after, dict) and set(after) == set(before)
                and all(after[k] == before[k] for k in before if k != "segments")
                and after["segments"] == list(before.get("segments") or []) + [expected_item]):
            return new
    return None


def _in_new_segment(exc: SegcError, path: Path, data: bytes, segment_id: str, template: str) -> SegcError:
    """Problems inside the segment being added point into a file not written yet: say so."""
    lines = data.removeprefix(_BOM).decode("utf-8").splitlines()
    marker = f"- id: {yaml_scalar(segment_id)}"
    starts = [i + 1 for i, line in enumerate(lines) if line.strip() == marker]
    if not starts:
        return exc
    name = display_path(path)
    out = [d if d.pos.file != name or d.pos.line < starts[-1] else
           dataclasses.replace(d, message=f"{d.message} (in the segment made from template {template}, not written)")
           for d in exc.diagnostics]
    return SegcError(out)


def new_segment(project_dir: str | Path, segment_id: str, template_name: str, settings: Iterable[str],
                file: Path | None = None) -> Added:
    """Render the template with the --set values and add the segment to its file.

    Raises SegcError (nothing written) on a bad template, parameter, id or file, or if the project
    does not load with the new segment (a project that is broken before may be fixed by it, e.g.
    a file holding only `segments:`)."""
    project_dir = Path(project_dir)
    template = get_template(template_name)
    values, given = parse_settings(template, settings)
    ck = Checker()
    model = load_model(project_dir, ck)
    if model is None or ck.errors:
        raise SegcError(ck.items)
    check_against_model(template, values, model, given)
    if not NAME_RE.match(segment_id) or "__" in segment_id:
        raise SegcError([Diagnostic(
            "E165", Pos("ID", 0, 0), f"segment id '{segment_id}' is not a valid id",
            "ids start with a lowercase letter, then lowercase letters, digits or _ (no __)")])
    try:
        existing = load_project(project_dir)[0].segments
    except SegcError:
        existing = ()  # the check with the new segment below reports what is wrong (it may be fixed by it)
    for seg in existing:
        if seg.id == segment_id:
            raise SegcError([Diagnostic("E165", seg.pos, f"segment '{segment_id}' already exists",
                                        "choose another ID for the new segment")])
    path = target_file(project_dir, segment_id, file)
    old = path.read_bytes() if path.is_file() else None

    def item(indent: str) -> str:
        return render_item(template, values, segment_id, indent)

    header = f"# Segments made with segc new (template {template.name}); edit them freely.\n"
    new = appended(old, item, header)
    if new is None:
        raise SegcError([Diagnostic(
            "E166", Pos(display_path(path)), "segc cannot add a segment to this file without rewriting it",
            "give another file with --file segments/NAME.yml, or add the segment by hand (segc templates show)")])
    try:
        _, warnings = load_project(project_dir, overrides={path: new})
    except SegcError as exc:
        raise _in_new_segment(exc, path, new, segment_id, template.name) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.segc-new.tmp")
    tmp.write_bytes(new)
    os.replace(tmp, path)
    return Added(path, old is None, item(""), warnings)
