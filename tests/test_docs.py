"""The README's settings and metrics tables are the ones the code would write: a setting or a
metric added, renamed or described anew without `python tools/docs.py` fails here."""

from __future__ import annotations

from pydantic import BaseModel

from gateway.settings import Settings
from tools import docs


def test_the_readme_tables_are_generated_from_the_code() -> None:
    assert docs.main(["--check"]) == 0


def test_every_setting_has_a_description() -> None:
    def undescribed(model: type[BaseModel], prefix: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                missing += undescribed(kind, f"{prefix}{name}.")
            elif not field.description:
                missing.append(prefix + name)
        return missing

    assert undescribed(Settings, "") == []


def test_every_setting_is_in_the_table() -> None:
    table = docs.settings_table()
    for name, field in Settings.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            for inner in kind.model_fields:
                assert f"__{inner.upper()}`" in table, f"{name}.{inner}"
        else:
            assert f"`ORDERGATE_{name.upper()}`" in table, name
