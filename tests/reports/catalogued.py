"""One check for every report test that asks "is each figure formatted by its catalogue
entry, not guessed from a column name?": collect the tables a report puts on its page, then
hold each numeric column to the catalogue that formats it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from outputs.metrics import CATALOGUE, Unit
from reports import render

#: (caption, table, the catalogue the page formats it with)
Table = tuple[str, pd.DataFrame, Any]


def report_tables(monkeypatch: pytest.MonkeyPatch, build: Callable[[], object]) -> list[Table]:
    """Every table ``build()`` puts on a page, with the catalogue it is formatted by."""
    seen: list[Table] = []
    original = render.Section.table

    def spy(self: render.Section, caption: str, frame: pd.DataFrame, **kwargs: Any) -> None:
        seen.append((caption, frame, kwargs.get("catalogue", CATALOGUE)))
        original(self, caption, frame, **kwargs)

    monkeypatch.setattr(render.Section, "table", spy)
    build()
    return seen


def assert_catalogued(tables: list[Table]) -> None:
    """Each numeric column has an entry in its table's catalogue, and a whole number (a
    count) is never shown as a share."""
    for caption, frame, catalogue in tables:
        for column in frame.columns:
            series = frame[column]
            if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
                continue
            assert column in catalogue, f"{caption}: {column}"
            if pd.api.types.is_integer_dtype(series):
                assert catalogue[column].unit is not Unit.SHARE, f"{caption}: {column}"
