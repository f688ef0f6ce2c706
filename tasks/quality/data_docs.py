"""Data Docs that open offline: the pages Great Expectations builds, rewritten to need no other host.

GX 1.x pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from about thirty CDN links, and the
index page fills its table of validation runs from JavaScript; the installed package ships none of those files
(only its own stylesheet and fonts under render/view/static). Offline such a page is blank. This module removes
every tag that loads from another host and every script (all of them drive those libraries), and writes the tables
the scripts would have filled as plain HTML rows, each run linked to its page. The look comes from the project's
gx/plugins/custom_data_docs/styles/data_docs_custom_styles.css, which GX inlines into every page.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

from tasks.core import io

REMOTE_TAG = re.compile(r"""<(link|script|img)\b[^>]*?\b(?:href|src)\s*=\s*["']?(?:https?:)?//[^>]*>(?:\s*</script>)?""",
                        re.IGNORECASE | re.DOTALL)
REMOTE_CSS_URL = re.compile(r"""url\(\s*["']?(?:https?:)?//[^)]*\)""", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)
TABLE_CALL = re.compile(r"""\$\(\s*['"]#(?P<id>[\w-]+)['"]\s*\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*columns:\s*""")
REMOTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
OPENERS, CLOSERS = "[{(", "]})"


def literal_end(text: str, start: int) -> int:
    """Return the index just past the bracketed Python literal that opens at text[start] (strings may hold brackets)."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in OPENERS:
            depth += 1
        elif ch in CLOSERS:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced literal from position {start}")


def literal_after(text: str, marker: str, start: int) -> tuple[list, int]:
    """Return the list literal that follows marker (searched from start) and the index just past it."""
    at = text.index(marker, start) + len(marker)
    at = text.index("[", at)
    end = literal_end(text, at)
    return ast.literal_eval(text[at:end]), end


def table_rows_html(columns: list[dict], rows: list[dict]) -> str:
    """Return the head and body of a table the way bootstrap-table would draw it; a row with a page links to it."""
    head = "".join(f"<th>{html.escape(str(c.get('title', c['field'])))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = str(row.get(c["field"], ""))
            if c["field"] == "validation_success" and row.get("_validation_success_text"):
                value += f' <span class="ge-status-text">{html.escape(row["_validation_success_text"])}</span>'
            if c["field"] == "run_time" and row.get("_table_row_link_path"):
                value = f'<a href="{html.escape(row["_table_row_link_path"])}">{value}</a>'
            cells.append(f"<td>{value}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"


def scripted_tables(page: str) -> dict[str, str]:
    """Return {table id: rows HTML} for every table the page's scripts fill with bootstrapTable({columns, data})."""
    out = {}
    for m in TABLE_CALL.finditer(page):
        columns, end = literal_after(page, "columns:", m.start())
        rows, _ = literal_after(page, "data:", end)
        out[m["id"]] = table_rows_html(columns, rows)
    return out


def fill_table(page: str, table_id: str, rows_html: str) -> str:
    """Return page with the empty <table id=table_id> holding rows_html."""
    pattern = re.compile(rf"""(<table\s[^>]*\bid=["']{re.escape(table_id)}["'][^>]*>)\s*(</table>)""", re.DOTALL)
    return pattern.sub(lambda m: m[1] + rows_html + m[2], page, count=1)


def offline_page(page: str) -> str:
    """Return a Data Docs page that loads nothing from another host and runs no script, its tables written out."""
    for table_id, rows_html in scripted_tables(page).items():
        page = fill_table(page, table_id, rows_html)
    page = REMOTE_CSS_URL.sub("none", REMOTE_TAG.sub("", page))
    return SCRIPT.sub("", page)


def remote_references(page: str) -> list[str]:
    """Return the tags and CSS url()s of page that would load from another host (links to click are not counted)."""
    tags = [m[0] for m in re.finditer(r"<(?:link|script|img|iframe|source)\b[^>]*>", page, re.IGNORECASE)
            if REMOTE_URL.search(m[0])]
    return tags + REMOTE_CSS_URL.findall(page)


def make_site_offline(site_dir: Path) -> int:
    """Rewrite every page under site_dir with offline_page (atomically, each page once); return how many changed."""
    changed = 0
    for path in sorted(site_dir.rglob("*.html")):
        page = path.read_text(encoding="utf-8")
        new = offline_page(page)
        if new != page:
            io.write_text(new, path)
            changed += 1
    return changed
