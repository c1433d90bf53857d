"""A self-contained HTML page: inline CSS, inline SVG, no script, no external address.

Every table cell carries its column (``data-col``) and its value as data (``data-value``), and
every row its key (``data-row``), so the numbers can be checked in a browser's DOM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from etl.report.tables import ReportTable

_CSS = """
body{font-family:system-ui,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:24px;color:#263238}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px}
.meta{color:#546e7a;font-size:13px;margin:0 0 4px}
.note{color:#546e7a;font-size:12px;margin:4px 0 8px;max-width:960px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{border:1px solid #cfd8dc;padding:3px 6px;white-space:nowrap}
.wrap{overflow-x:auto;max-width:100%}
th{background:#eceff1;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold;background:#f5f5f5} td.short{color:#bf360c}
dl{font-size:13px} dt{font-weight:bold;margin-top:6px} dd{margin-left:16px}
"""


@dataclass
class Figure:
    """A chart with a heading and a sentence saying what it shows."""

    name: str
    title: str
    svg: str
    note: str = ""


def _cell(value: object) -> tuple[str, str, bool]:
    """(text shown, data-value, is a number)."""
    if value is None:
        return "", "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), str(value).lower(), False
    if isinstance(value, int):
        return str(value), str(value), True
    if isinstance(value, float):
        return f"{value:.1f}", repr(value), True
    return str(value), str(value), False


def render_table(table: ReportTable, *, total_key: object = "(total)",
                 short_col: str | None = None) -> str:
    out = [f'<table id="{escape(table.name)}" data-table="{escape(table.name)}">', "<thead><tr>"]
    out += [f'<th data-col="{escape(c)}">{escape(c)}</th>' for c in table.columns]
    out.append("</tr></thead><tbody>")
    key_i = table.columns.index(table.key) if table.key else None
    for row in table.rows:
        key = row[key_i] if key_i is not None else None
        attrs = f' data-row="{escape(str(key))}"' if key_i is not None else ""
        if key == total_key:
            attrs += ' class="total"'
        out.append(f"<tr{attrs}>")
        for col, value in zip(table.columns, row, strict=True):
            text, data, numeric = _cell(value)
            cls = "n" if numeric else ""
            if col == short_col and isinstance(value, int) and value > 0:
                cls += " short"
            cls_attr = f' class="{cls.strip()}"' if cls.strip() else ""
            out.append(f'<td data-col="{escape(col)}" data-value="{escape(data)}"{cls_attr}>'
                       f"{escape(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_page(title: str, meta: Sequence[str], blocks: Sequence[ReportTable | Figure], *,
                definitions: Sequence[tuple[str, str]] = (), short_col: str | None = None) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="vi">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>{escape(title)}</h1>"]
    parts += [f'<p class="meta">{escape(line)}</p>' for line in meta]
    for block in blocks:
        parts.append(f'<section id="section-{escape(block.name)}">')
        parts.append(f"<h2>{escape(block.title)}</h2>")
        if block.note:
            parts.append(f'<p class="note">{escape(block.note)}</p>')
        if isinstance(block, Figure):
            parts.append(block.svg)
        else:
            parts.append(f'<div class="wrap">{render_table(block, short_col=short_col)}</div>')
        parts.append("</section>")
    if definitions:
        parts.append('<section id="section-definitions"><h2>Definitions</h2><dl>')
        for term, text in definitions:
            parts.append(f"<dt>{escape(term)}</dt><dd>{escape(text)}</dd>")
        parts.append("</dl></section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write_page(out: Path, html: str) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8", newline="\n")
    return out
