"""YAML -> checked model -> IR -> sqlglot expressions.

Each stage is a public function or class with typed input and output:

    project, warnings = load_project(path)        # read and check (raises SegcError)
    emitter = Emitter(project, get_dialect("duckdb"), as_of=None)
    emitter.view(project.segment("vip"))          # a sqlglot expression
"""

from segc.compiler.emit import Emitter
from segc.compiler.project import load_project, write_lock
from segc.compiler.sqlfiles import SqlFile, view_files

__all__ = ["Emitter", "SqlFile", "load_project", "view_files", "write_lock"]
