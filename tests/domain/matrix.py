"""Read a rule matrix written out as a text table: a header row of column names, then one
row per name with one cell per column (``tests/domain/test_transitions.py`` has one)."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


def read_matrix(text: str, names: type[E]) -> dict[tuple[E, E], str]:
    """``{(row, column): cell}`` for every cell; every row and column must be one of ``names``."""
    header, *rows = (line.split() for line in text.strip().splitlines())
    columns = [names[name] for name in header]
    cells: dict[tuple[E, E], str] = {}
    for row_name, *row in rows:
        assert len(row) == len(columns), f"row {row_name} has {len(row)} cells, not {len(columns)}"
        cells.update(
            {(names[row_name], column): cell for column, cell in zip(columns, row, strict=True)}
        )
    assert {row for row, _ in cells} == set(names), "every status needs its row"
    assert set(columns) == set(names), "every status needs its column"
    return cells
