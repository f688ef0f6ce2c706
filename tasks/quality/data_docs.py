"""Data Docs: where the site lives, its rebuild (older runs pruned) and pages that open offline: the pages Great
Expectations builds, rewritten to need no other host.

GX 1.x pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from about thirty CDN links, and the
index page fills its table of validation runs from JavaScript; the installed package ships none of those files
(only its own stylesheet and fonts under render/view/static). Offline such a page is blank. This module removes
every tag that loads from another host and every script (all of them drive those libraries), writes the tables
the scripts would have filled as plain HTML rows, each run linked to its page, and adds OFFLINE_CSS, which stands in
for the few Bootstrap classes the pages use (whatever gx folder the project has: it needs no GX plugin).
"""

from __future__ import annotations

import ast
import html
import re
import shutil
from pathlib import Path
from typing import Any

from tasks.core import io
from tasks.core.config import PathsParams, ValidateParams
from tasks.core.errors import InputError

REMOTE_TAG = re.compile(
    r"""<(link|script|img)\b[^>]*?\b(?:href|src)\s*=\s*["']?(?:https?:)?//[^>]*>(?:\s*</script>)?""", re.IGNORECASE | re.DOTALL
)
REMOTE_CSS_URL = re.compile(r"""url\(\s*["']?(?:https?:)?//[^)]*\)""", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)
TABLE_CALL = re.compile(r"""\$\(\s*['"]#(?P<id>[\w-]+)['"]\s*\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*columns:\s*""")
REMOTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
OPENERS, CLOSERS = "[{(", "]})"
OFFLINE_STYLE_ID = "tabgate-offline"
OFFLINE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; font-size: 14px; color: #212529;
       background: #fff; margin: 0; line-height: 1.45; }
a { color: #0b5ed7; }
.container-fluid { width: 100%; box-sizing: border-box; }
.row { display: flex; flex-wrap: wrap; }
.col-12, .col-sm-12, .col-xs-12 { flex: 0 0 100%; max-width: 100%; box-sizing: border-box; }
.col-6 { flex: 0 0 50%; max-width: 50%; box-sizing: border-box; }
@media (min-width: 768px) {
  .col-md-2 { flex: 0 0 16.66%; max-width: 16.66%; }
  .col-md-10 { flex: 0 0 83.33%; max-width: 83.33%; }
}
.d-flex { display: flex; } .flex-column { flex-direction: column; } .align-items-center { align-items: center; }
.d-none, .invisible, .collapse:not(.show), .modal, .fixed-bottom, #ge-cta-footer, .btn-group-toggle, .close,
.ge-index-page-tabs-container .btn, .sticky-top.navbar { display: none !important; }
.pt-4 { padding-top: 1.2rem; } .pb-4 { padding-bottom: 1.2rem; } .pl-5 { padding-left: 2rem; } .pr-5 { padding-right: 2rem; }
.mb-4 { margin-bottom: 1.2rem; } .mt-3 { margin-top: .8rem; } .p-3 { padding: .8rem; }
.alert { padding: .6rem .9rem; margin-bottom: .8rem; border: 1px solid #d6d8db; border-radius: .25rem; }
.alert-secondary { background: #e2e3e5; } .alert-info { background: #d1ecf1; border-color: #bee5eb; }
.card { border: 1px solid #dee2e6; border-radius: .25rem; margin-bottom: .8rem; }
.card-header { background: #f7f7f9; padding: .5rem .9rem; border-bottom: 1px solid #dee2e6; }
.card-body { padding: .6rem .9rem; }
.table { width: 100%; border-collapse: collapse; margin-bottom: .8rem; }
.table td, .table th, .ge-index-page-validation-results-table td, .ge-index-page-validation-results-table th,
.ge-index-page-expectation_suites-table td, .ge-index-page-expectation_suites-table th {
  border: 1px solid #dee2e6; padding: .3rem .5rem; vertical-align: top; text-align: left; }
.ge-index-page-validation-results-table, .ge-index-page-expectation_suites-table { border-collapse: collapse;
  margin: .5rem 0 1.2rem; }
.table-responsive { overflow-x: auto; }
.badge { display: inline-block; padding: .1em .4em; border-radius: .25rem; background: #6c757d; color: #fff;
         font-size: 85%; }
.nav { list-style: none; padding: 0; margin: 0 0 .5rem; display: flex; flex-wrap: wrap; gap: .3rem 1rem; }
.nav-tabs { border-bottom: 1px solid #dee2e6; }
.nav-pills { flex-direction: column; }
.breadcrumb { list-style: none; display: flex; padding: .4rem .8rem; background: #e9ecef; border-radius: .25rem; }
.breadcrumb-item + .breadcrumb-item::before { content: "/"; padding: 0 .5rem; color: #6c757d; }
.text-success { color: #198754; } .text-danger { color: #dc3545; }
.h6 { font-weight: 600; }
.cooltip .top { display: none; }
/* Font Awesome icons, as characters */
.fas { font-style: normal; font-weight: 700; }
.fa-check-circle::before { content: "\\2714"; }
.fa-times::before { content: "\\2718"; }
.fa-question-circle::before { content: "?"; }
.ge-status-text { font-weight: 600; margin-left: .3em; }
"""

DOCS_INDEX = Path("uncommitted/data_docs/local_site/index.html")

KEEP_VALIDATION_RUNS = 20  # stored GX results (and their Data Docs pages) kept under gx/uncommitted


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
    """Return a Data Docs page that loads nothing from another host and runs no script, its tables written out and
    OFFLINE_CSS added (once)."""
    for table_id, rows_html in scripted_tables(page).items():
        page = fill_table(page, table_id, rows_html)
    page = SCRIPT.sub("", REMOTE_CSS_URL.sub("none", REMOTE_TAG.sub("", page)))
    if f'id="{OFFLINE_STYLE_ID}"' not in page:
        page = page.replace("</head>", f'<style id="{OFFLINE_STYLE_ID}">{OFFLINE_CSS}</style>\n</head>', 1)
    return page


def remote_references(page: str) -> list[str]:
    """Return the tags and CSS url()s of page that would load from another host (links to click are not counted)."""
    tags = [
        m[0] for m in re.finditer(r"<(?:link|script|img|iframe|source)\b[^>]*>", page, re.IGNORECASE) if REMOTE_URL.search(m[0])
    ]
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


def docs_index(paths: PathsParams) -> Path:
    """Return the Data Docs index.html path (as configured, so relative in the repo)."""
    return paths.gx_dir / DOCS_INDEX


def prune_validation_runs(gx_dir: Path, suite_name: str, keep: int = KEEP_VALIDATION_RUNS) -> int:
    """Delete all but the newest `keep` stored validation runs and their Data Docs pages; return how many went."""
    removed = 0
    stores = gx_dir / "uncommitted" / "validations", gx_dir / "uncommitted" / "data_docs" / "local_site" / "validations"
    for root in stores:
        for run_name in sorted((root / suite_name).glob("*")) if (root / suite_name).is_dir() else []:
            runs = sorted(d for d in run_name.iterdir() if d.is_dir())
            for old in runs[:-keep] if keep > 0 else runs:
                shutil.rmtree(old)
                removed += 1
    return removed


def build_docs(ctx: Any, paths: PathsParams, p: ValidateParams) -> str:
    """Rebuild the Data Docs site (older runs pruned, pages made to open offline: tasks.quality.data_docs) and return
    its index.html path, relative as configured."""
    prune_validation_runs(paths.gx_dir, p.suite_name)
    ctx.build_data_docs()
    index = docs_index(paths)
    if not index.exists():
        raise InputError(f"{index}: Great Expectations did not write Data Docs (sites: {ctx.get_docs_sites_urls()})")
    make_site_offline(index.parent)
    return index.as_posix()


def shows_a_validation(paths: PathsParams) -> bool:
    """Return whether the Data Docs site exists and has at least one validation run's page."""
    pages = docs_index(paths).parent / "validations"
    return docs_index(paths).exists() and any(pages.rglob("*.html"))


def kept_results(paths: PathsParams, p: ValidateParams) -> bool:
    """Return whether GX keeps a validation result of the suite under gx/uncommitted/validations."""
    return any((paths.gx_dir / "uncommitted" / "validations" / p.suite_name).rglob("*.json"))
