"""Load a project folder: segc.yml, segments/*.yml and segc.lock -> a checked IR Project."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from segc.compiler.check_model import ModelChecker
from segc.compiler.check_segments import SegmentChecker, display_order
from segc.compiler.ir import Model, Project, Scope, Segment
from segc.compiler.util import Checker, expect_map, expect_scalar
from segc.compiler.yamlfile import parse_yaml, read_yaml
from segc.errors import Diagnostic, Diagnostics, Pos, SegcError

LOCK_FILE = "segc.lock"
LOCK_HEADER = ("# segc.lock: written by segc compile and apply. It fixes each segment's scope and owner,\n"
               "# which cannot change once set (R7). Commit it; do not edit it by hand.\n")


def display_path(path: Path) -> str:
    """Paths in messages: relative to the working folder when below it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)


def segment_files(project_dir: Path) -> list[Path]:
    folder = project_dir / "segments"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def load_model(project_dir: Path, ck: Checker) -> Model | None:
    path = project_dir / "segc.yml"
    name = display_path(path)
    if not path.is_file():
        ck.error("E001", Pos(name), "no segc.yml here",
                 "point --project at the folder holding segc.yml")
        return None
    try:
        root = read_yaml(path, name)
    except SegcError as exc:
        ck.items.extend(exc.diagnostics)
        return None
    return ModelChecker(ck, name).check(root)


def load_project(project_dir: str | Path, *, check_lock: bool = True,
                 overrides: Mapping[Path, bytes] | None = None) -> tuple[Project, list[Diagnostic]]:
    """Check everything; raise SegcError with every problem, or return the project and warnings.

    ``overrides`` maps segment files (under ``segments/``, existing or not) to the content they
    are to be checked with instead of what is on disk: `segc new` checks a file before writing it.
    """
    project_dir = Path(project_dir)
    overrides = {Path(p).resolve(): data for p, data in (overrides or {}).items()}
    ck = Checker()
    model = load_model(project_dir, ck)
    if model is None or ck.errors:
        # segments checked against a broken model would only repeat its errors
        raise SegcError(ck.items)
    seg_checker = SegmentChecker(ck, model)
    files = segment_files(project_dir)
    if overrides:
        on_disk = {p.resolve(): p for p in files}
        files = sorted((on_disk.get(p, p) for p in set(on_disk) | set(overrides)), key=lambda p: p.name)
    if not files:
        ck.warning("W002", Pos(display_path(project_dir / "segments")), "no segment files found",
                   "add segments/*.yml")
    for path in files:
        name = display_path(path)
        try:
            data = overrides.get(path.resolve())
            root = read_yaml(path, name) if data is None else parse_yaml(data, name)
        except SegcError as exc:
            ck.items.extend(exc.diagnostics)
            continue
        seg_checker.file(root, path.resolve().relative_to(project_dir.resolve()).as_posix())
    ck.raise_if_errors()
    project = Project(model, display_order(seg_checker.out))
    if check_lock:
        check_against_lock(project, project_dir, ck)
    ck.raise_if_errors()
    return project, ck.warnings


# ---------------------------------------------------------------------------------------------
# segc.lock (R7): a segment's scope and owner are fixed once recorded.


def read_lock(project_dir: Path, diags: Diagnostics) -> dict[str, tuple[str, str | None]]:
    path = project_dir / LOCK_FILE
    if not path.is_file():
        return {}
    name = display_path(path)
    try:
        root = read_yaml(path, name)
    except SegcError as exc:
        diags.items.extend(exc.diagnostics)
        return {}
    ck = Checker()
    top = expect_map(ck, root, LOCK_FILE)
    entries: dict[str, tuple[str, str | None]] = {}
    segs = expect_map(ck, top.get("segments"), "segments") if top else None
    for key, value in segs.items if segs else ():
        spec = expect_map(ck, value, f"lock entry '{key.text}'")
        if spec is None:
            continue
        scope = expect_scalar(ck, spec.get("scope"), "scope")
        owner = expect_scalar(ck, spec.get("owner"), "owner", optional=True)
        if scope is not None:
            entries[key.text] = (scope.text, owner.text if owner else None)
    diags.items.extend(ck.items)
    return entries


def check_against_lock(project: Project, project_dir: Path, diags: Diagnostics) -> None:
    locked = read_lock(project_dir, diags)
    for seg in project.segments:
        if seg.id not in locked:
            continue
        was_scope, was_owner = locked[seg.id]
        if (was_scope, was_owner) != (seg.scope.value, seg.owner):
            diags.error("E150", seg.pos,
                        f"segment '{seg.id}' is locked as {_describe(was_scope, was_owner)} in {LOCK_FILE}; "
                        f"it is now {_describe(seg.scope.value, seg.owner)}",
                        "scope and owner cannot change once set (R7): create a new segment instead")


def _describe(scope: str, owner: str | None) -> str:
    return f"{scope} (owner {owner})" if owner else scope


def render_lock(segments: tuple[Segment, ...]) -> str:
    import json

    lines = [LOCK_HEADER, "version: 1\n", "segments:\n"]
    for seg in sorted(segments, key=lambda s: s.id):
        entry = f"scope: {seg.scope.value}"
        if seg.scope is Scope.PERSONAL and seg.owner is not None:
            entry += f", owner: {json.dumps(seg.owner)}"  # \u escapes: YAML reads them back exactly
        lines.append(f"  {seg.id}: {{{entry}}}\n")
    return "".join(lines)


def write_lock(project: Project, project_dir: str | Path) -> bool:
    """Record new segments and drop deleted ones; returns True when the file changed."""
    path = Path(project_dir) / LOCK_FILE
    text = render_lock(project.segments)
    # The rendering must read back as the same entries, whatever the owner's name holds.
    parse_yaml(text.encode(), str(path))
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    tmp = path.with_suffix(".lock.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True

