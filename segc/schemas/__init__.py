"""JSON Schemas (draft 2020-12) of segc's project files, for editors (yaml-language-server).

The schemas describe the shape of `segc.yml` and of `segments/*.yml`; `segc validate` remains the
judge of everything that needs the model (field names, operators per type, declared enum values).
"""

from __future__ import annotations

from importlib import resources

# kind -> file name in this package: "segc.yml" for the model, "segments" for a segment file
SCHEMAS = {"segc.yml": "segc.schema.json", "segments": "segments.schema.json"}


def schema_text(kind: str) -> str:
    """The text of the JSON Schema of one kind of project file (a key of SCHEMAS)."""
    try:
        name = SCHEMAS[kind]
    except KeyError:
        raise ValueError(f"unknown schema kind {kind!r}; expected one of: {', '.join(SCHEMAS)}") from None
    return (resources.files(__package__) / name).read_text(encoding="utf-8")


__all__ = ["SCHEMAS", "schema_text"]
