"""Data Docs made to open offline (tasks/quality/data_docs.py): nothing loads from another host, no script runs,
and the tables bootstrap-table would have drawn are written out as HTML."""

from __future__ import annotations

from tasks.quality.data_docs import make_site_offline, offline_page, remote_references

PAGE = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src='//cdn.jsdelivr.net/npm/vega@5'></script>
<style>.logo { background: url('https://example.org/logo.png') 0 0 no-repeat; }</style>
<link rel="shortcut icon" href="./static/images/favicon.ico" type="image/x-icon"/>
</head><body>
<img src="https://example.org/logo.png?d=1" alt="logo"/>
<a href="https://greatexpectations.io">Great Expectations</a>
<table
  id="runs-table"
  data-toggle="table"
>
</table>
<script>
  $('#runs-table').bootstrapTable(
    Object.assign(
      {
        columns: [{'field': 'validation_success', 'title': 'Status'}, {'field': 'run_time', 'title': 'Run Time'}],
        data: [{'validation_success': '<i class="fas fa-check-circle"></i>', 'run_time': '2026-01-01 [x] 10:00',
                '_validation_success_text': 'Success', '_table_row_link_path': 'validations/a/b.html'}],
        toolbar: '#runs-table-toolbar'
      },
      {'search': 'true'}
    )
  );
</script>
</body></html>"""


def test_offline_page_loads_nothing_from_another_host_and_writes_the_scripted_table_out():
    assert len(remote_references(PAGE)) == 5
    out = offline_page(PAGE)
    assert remote_references(out) == []
    assert "<script" not in out
    assert "<th>Status</th><th>Run Time</th>" in out
    assert '<a href="validations/a/b.html">2026-01-01 [x] 10:00</a>' in out  # a bracket inside a string is text
    assert '<span class="ge-status-text">Success</span>' in out
    assert 'href="https://greatexpectations.io"' in out and "favicon.ico" in out  # links and local files stay


def test_make_site_offline_rewrites_every_page_once(tmp_path):
    (tmp_path / "validations").mkdir()
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "validations" / "run.html").write_text(PAGE)
    assert make_site_offline(tmp_path) == 2
    assert make_site_offline(tmp_path) == 0
    assert all(remote_references(p.read_text()) == [] for p in tmp_path.rglob("*.html"))
