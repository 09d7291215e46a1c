"""YAML -> checked model -> IR -> sqlglot expressions.

Each stage is a public function or class with typed input and output:

    project, warnings = load_project(path)        # read and check (raises SegcError)
    emitter = Emitter(project, get_dialect("duckdb"), as_of=None)
    emitter.view(project.segment("vip"))          # a sqlglot expression
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Emitter": "segc.compiler.emit",
    "SqlFile": "segc.compiler.sqlfiles",
    "view_files": "segc.compiler.sqlfiles",
    "load_project": "segc.compiler.project",
    "write_lock": "segc.compiler.project",
    "paused_gc": "segc.compiler.util",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy, so that segc.dialects can import segc.compiler.ir without a cycle through emit.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
