"""Tests for flows/artifacts.py: the Prefect UI views of the validate and split reports show every finding."""

from __future__ import annotations

from flows.artifacts import split_markdown, validation_markdown
from tasks.core.reports import SplitReport
from tasks.quality.reports import ValidateReport
from tests.support.reports import validate_report_data

SUSPECT = {
    "columns": ["post"],
    "check": "dominance",
    "value": 0.3,
    "threshold": 0.1,
    "severity": "suspect",
    "excused": False,
    "detail": "carries far more | than any other",
}
EXCUSED = {**SUSPECT, "columns": ["country"], "excused": True, "reason": "asked at reservation"}


def test_validation_summary_lists_findings_with_their_effect():
    md = validation_markdown(ValidateReport.model_validate(validate_report_data(leakage={"suspects": [SUSPECT, EXCUSED]})))
    assert "| post | dominance | 0.3000 | 0.1000 | blocks promotion | carries far more \\| than any other |" in md
    assert "| country | dominance | 0.3000 | 0.1000 | excused: asked at reservation |" in md
    assert "block promotion (not the run)" in md


def test_split_summary_shows_label_psi_adversarial_and_warnings():
    warn = {
        "columns": ["is_canceled"],
        "check": "label_shift",
        "value": 0.38,
        "threshold": 0.1,
        "severity": "warn",
        "excused": False,
        "detail": "class 1: 4.8% in training, 25.0% in test",
    }
    report = SplitReport.model_validate(
        {
            "step_version": "2",
            "strategy": "time",
            "detail": {},
            "train": {"rows": 8},
            "valid": {"rows": 1},
            "test": {"rows": 3},
            "test_fingerprint": "f" * 64,
            "duplicate_rows_shared_train_test": 0,
            "train_vs_test": {"label": {"psi": 0.38}, "adversarial": {"roc_auc": 0.61}},
            "suspects": [warn],
        }
    )
    md = split_markdown(report)
    assert "label PSI training -> test 0.3800; adversarial ROC-AUC 0.6100" in md
    assert "| is_canceled | label_shift | 0.3800 | 0.1000 | warn | class 1: 4.8% in training, 25.0% in test |" in md
    assert "No train-vs-test warning." in split_markdown(report.model_copy(update={"suspects": []}))


def test_data_docs_artifact_links_only_docs_that_exist_else_says_how_to_build_them(tmp_path, monkeypatch):
    from flows import artifacts
    from tests.conftest import make_config

    published: list[tuple[str, dict]] = []
    monkeypatch.setattr(artifacts, "create_link_artifact", lambda **kw: published.append(("link", kw)))
    monkeypatch.setattr(artifacts, "create_markdown_artifact", lambda **kw: published.append(("markdown", kw)))
    cfg = make_config(tmp_path)
    artifacts.publish_data_docs(cfg)  # no Data Docs, no ingested table: nothing to link
    kind, kw = published.pop()
    assert kind == "markdown" and kw["key"] == "data-docs"
    assert "not built" in kw["markdown"] and "tabgate validate --data-docs" in kw["markdown"]
    index = tmp_path / "gx/uncommitted/data_docs/local_site/index.html"
    (index.parent / "validations/s/r").mkdir(parents=True)
    index.write_text("<html></html>")
    (index.parent / "validations/s/r/page.html").write_text("<html></html>")
    artifacts.publish_data_docs(cfg)
    kind, kw = published.pop()
    assert kind == "link" and kw["key"] == "data-docs" and kw["link"] == index.resolve().as_uri()
