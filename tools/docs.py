"""The README's generated tables: every setting (from ``gateway.settings.Settings``) and every
metric (from ``telemetry.metrics``), so neither can drift from the code.

    python tools/docs.py          rewrite the tables in README.md
    python tools/docs.py --check  exit 1 if README.md is not what this would write

``tests/test_docs.py`` runs the check.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from backends.config import BackendSettings
from gateway.settings import Settings
from telemetry import metrics

README = Path(__file__).resolve().parent.parent / "README.md"
BACKENDS = ("affiliate", "webshop", "crm", "b2b")


def _default(field: FieldInfo) -> str:
    value: Any = field.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()  # the published demo credentials, nothing else
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _row(variable: str, default: str, field: FieldInfo) -> str:
    description = (field.description or "").replace("|", "\\|").replace("\n", " ")
    return f"| `{variable}` | {default} | {description} |"


def _rows(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if issubclass(kind, BackendSettings):
                continue  # the four backends: one table of what they share, below
            yield from _rows(kind, f"{prefix}{name.upper()}__")
        else:
            yield _row(f"{prefix}{name.upper()}", _default(field), field)


def settings_table() -> str:
    """Every setting: the gateway's, then each backend's."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += _rows(Settings, "ORDERGATE_")
    sections = {name: Settings.model_fields[name].annotation for name in BACKENDS}
    for name, field in BackendSettings.model_fields.items():
        if name == "base_url":
            defaults = " / ".join(
                _default(section.model_fields[name])  # type: ignore[union-attr]
                for section in sections.values()
            )
            lines.append(_row("ORDERGATE_<SOURCE>__BASE_URL", defaults, field))
        else:
            lines.append(_row(f"ORDERGATE_<SOURCE>__{name.upper()}", _default(field), field))
    for source, section in sections.items():
        assert isinstance(section, type) and issubclass(section, BackendSettings)
        for name, field in section.model_fields.items():
            if name not in BackendSettings.model_fields:
                lines.append(
                    _row(f"ORDERGATE_{source.upper()}__{name.upper()}", _default(field), field)
                )
    return "\n".join(lines)


def metrics_table() -> str:
    """Every metric, its type and labels."""
    lines = ["| metric | type | labels | what |", "|---|---|---|---|"]
    for value in vars(metrics).values():
        if isinstance(value, Counter | Gauge | Histogram):
            kind = type(value).__name__.lower()
            name = value._name + ("_total" if kind == "counter" else "")
            labels = ", ".join(f"`{label}`" for label in value._labelnames) or "none"
            lines.append(f"| `{name}` | {kind} | {labels} | {value._documentation} |")
    return "\n".join(lines)


TABLES = {"settings": settings_table, "metrics": metrics_table}


def rewritten(text: str) -> str:
    """``text`` with each ``<!-- generated: NAME -->`` ... ``<!-- end: NAME -->`` block made
    anew."""
    for name, table in TABLES.items():
        start, end = f"<!-- generated: {name} -->", f"<!-- end: {name} -->"
        before, found, rest = text.partition(start)
        if not found:
            raise SystemExit(f"README.md has no {start} block")
        _, found, after = rest.partition(end)
        if not found:
            raise SystemExit(f"README.md's {start} block has no {end}")
        text = f"{before}{start}\n{table()}\n{end}{after}"
    return text


def main(argv: list[str]) -> int:
    text = README.read_text()
    new = rewritten(text)
    if "--check" in argv:
        if new != text:
            print("README.md's generated tables are stale: run `python tools/docs.py`")
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
