"""Rendering: tables and charts into one self-contained HTML page and a Markdown summary.

The page must open anywhere — attached to a ticket, offline, years later — so it carries its
own CSS and embeds every chart as a base64 PNG; nothing is fetched. A column is formatted by
its entry in the metric catalogue (``sim.metrics``: shares as percentages, times in seconds,
counts as counts, money with two decimals), the same way in HTML and Markdown, so the two never
disagree; a column the catalogue does not name is formatted by its type only.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from reports.charts import to_data_uri
from sim.metrics import CATALOGUE, Catalogue

__all__ = ["Page", "Section", "format_frame", "markdown_table"]


def _formatter(column: str, series: pd.Series, catalogue: Catalogue) -> Callable[[object], str]:
    """A column's formatter: its catalogue entry (``sim.metrics``), else its type alone —
    never a guess from the column's name."""
    if pd.api.types.is_bool_dtype(series):
        return lambda v: "yes" if v else "no"
    if not pd.api.types.is_numeric_dtype(series):
        return _text
    if column in catalogue:
        metric = catalogue[column]
        return metric.format
    if pd.api.types.is_integer_dtype(series):
        return lambda v: _num(v, "{:,}")
    return _plain


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value) if str(value) != "" else "(none)"


def _plain(value: object) -> str:
    """Whole numbers without decimals, others with three."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return _num(number, "{:,.0f}" if number.is_integer() else "{:,.3f}")


def _num(value: object, spec: str) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "–"
    return spec.format(int(number) if spec == "{:,}" else number)


def format_frame(frame: pd.DataFrame, catalogue: Catalogue = CATALOGUE) -> pd.DataFrame:
    """Every cell as display text (by the column's catalogue entry); column names kept."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        render = _formatter(str(column), frame[column], catalogue)
        out[column] = [render(v) for v in frame[column]]
    return out


def markdown_table(
    frame: pd.DataFrame, *, max_rows: int = 40, catalogue: Catalogue = CATALOGUE
) -> str:
    if frame.empty:
        return "_(none)_\n"
    shown = format_frame(frame.head(max_rows), catalogue)
    header = "| " + " | ".join(str(c) for c in shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    lines = [header, rule]
    for _, row in shown.iterrows():
        cells = (str(v).replace("|", "\\|") for v in row)
        lines.append("| " + " | ".join(cells) + " |")
    if len(frame) > max_rows:
        lines.append(f"\n_{len(frame) - max_rows} more rows in the HTML report._")
    return "\n".join(lines) + "\n"


def html_table(frame: pd.DataFrame, *, max_rows: int = 30, catalogue: Catalogue = CATALOGUE) -> str:
    if frame.empty:
        return '<p class="none">(none)</p>'
    shown = format_frame(frame.head(max_rows), catalogue)
    # text columns read left to right, numbers line up on the right; only long texts (a
    # definition, a unit) wrap, so "95.99 %" never breaks before its "%"
    kinds = [
        ""
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        else ' class="t wrap"'
        if shown[c].str.len().max() > _WRAP_FROM
        else ' class="t"'
        for c in frame.columns
    ]
    head = "".join(
        f"<th{k}>{_breakable(str(c))}</th>" for c, k in zip(shown.columns, kinds, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{k}>{html.escape(str(v))}</td>" for v, k in zip(row, kinds, strict=True))
        + "</tr>"
        for row in shown.itertuples(index=False)
    )
    more = (
        f'<p class="note">{len(frame) - max_rows} more rows not shown.</p>'
        if len(frame) > max_rows
        else ""
    )
    dense = ' class="dense"' if len(frame.columns) >= _DENSE_FROM else ""
    return (
        f'<div class="scroll"><table{dense}><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        f"</table></div>{more}"
    )


#: Text cells longer than this may wrap; shorter ones (a figure with its unit) stay whole.
_WRAP_FROM = 24
#: Tables with this many columns or more are set smaller, so they still fit a 1280 px card.
_DENSE_FROM = 12


def _breakable(name: str) -> str:
    """A column name that may wrap after its underscores and dots (``wrong_server_per_auth``
    would otherwise set the column's width), so a wide table still fits its card."""
    return html.escape(name).replace("_", "_<wbr>").replace(".", ".<wbr>")


@dataclass
class Section:
    """One heading of the report with its HTML body parts and Markdown lines."""

    title: str
    anchor: str
    parts: list[str] = field(default_factory=list)
    markdown: list[str] = field(default_factory=list)

    def text(self, paragraph: str, *, markdown: bool = True) -> None:
        self.parts.append(f"<p>{html.escape(paragraph)}</p>")
        if markdown:
            self.markdown.append(paragraph + "\n")

    def table(
        self,
        caption: str,
        frame: pd.DataFrame,
        *,
        markdown: bool = False,
        max_rows: int = 30,
        catalogue: Catalogue = CATALOGUE,
    ) -> None:
        """A table whose cells are formatted by ``catalogue`` (the simulator's by default;
        ``sim.metrics.LOADTEST`` for Locust's millisecond latencies)."""
        table = html_table(frame, max_rows=max_rows, catalogue=catalogue)
        self.parts.append(f"<h3>{html.escape(caption)}</h3>{table}")
        if markdown:
            self.markdown.append(f"**{caption}**\n\n{markdown_table(frame, catalogue=catalogue)}")

    def chart(self, kind: str, chart_id: str, figure: Figure, caption: str) -> None:
        self.parts.append(
            f'<figure id="{html.escape(chart_id)}" data-chart="{html.escape(kind)}">'
            f'<img alt="{html.escape(caption)}" src="{to_data_uri(figure)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )


@dataclass
class Page:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str, anchor: str) -> Section:
        section = Section(title, anchor)
        self.sections.append(section)
        return section

    @property
    def charts(self) -> list[str]:
        return [
            part.split('data-chart="', 1)[1].split('"', 1)[0]
            for section in self.sections
            for part in section.parts
            if part.startswith("<figure")
        ]

    def to_html(self) -> str:
        toc = "".join(
            f'<li><a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a></li>'
            for s in self.sections
        )
        body = "".join(
            f'<section id="{html.escape(s.anchor)}"><h2>{html.escape(s.title)}</h2>'
            + "".join(s.parts)
            + "</section>"
            for s in self.sections
        )
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{html.escape(self.title)}</h1>"
            f'<p class="subtitle">{html.escape(self.subtitle)}</p>'
            f"<nav><ol>{toc}</ol></nav></header><main>{body}</main></body></html>\n"
        )

    def to_markdown(self, sections: Sequence[Section] | None = None) -> str:
        lines = [f"# {self.title}\n", f"{self.subtitle}\n" if self.subtitle else ""]
        for section in sections or self.sections:
            if section.markdown:
                lines.append(f"## {section.title}\n")
                lines.extend(section.markdown)
        return "\n".join(line for line in lines if line) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
color:#1d2a30;background:#f7f8f8}
header{background:#264653;color:#fff;padding:1.2rem 2rem}
header h1{margin:0 0 .3rem;font-size:1.6rem}
.subtitle{margin:0 0 .6rem;opacity:.85}
nav ol{margin:0;padding-left:1.2rem;columns:3;font-size:.9rem}
nav a{color:#e9f5f3}
main{padding:1rem 2rem;max-width:1200px}
section{background:#fff;border-radius:6px;padding:.6rem 1.2rem 1rem;margin:1rem 0;
box-shadow:0 1px 3px rgba(0,0,0,.08);overflow-x:auto}
h2{color:#264653;border-bottom:2px solid #2a9d8f;padding-bottom:.2rem}
h3{font-size:1rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.3rem 0 .8rem;max-width:100%}
th,td{border:1px solid #d9dede;padding:.2rem .45rem;text-align:right}
th{background:#eef3f2;vertical-align:bottom;font-weight:600;min-width:3.5rem}
td{white-space:nowrap}
td:first-child{white-space:normal;overflow-wrap:anywhere;min-width:8rem}
td.wrap{white-space:normal}
table.dense{font-size:.78rem}
table.dense th,table.dense td{padding:.15rem .3rem}
table.dense th{min-width:2.5rem}
td:first-child,th:first-child,th.t,td.t{text-align:left}
.scroll{overflow-x:auto}
figure{margin:.6rem 0}
figure img{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#55666b}
.note,.none{font-size:.85rem;color:#55666b}
"""
