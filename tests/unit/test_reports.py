"""Reports: the typed contracts between steps (tasks.core.reports) keep the committed JSON byte for byte."""

from pathlib import Path

import pytest

from tasks.core import io
from tasks.core.errors import InputError
from tasks.core.reports import (
    CvReport,
    EvaluateReport,
    Finding,
    FindingSeverity,
    IngestReport,
    Metrics,
    PreprocessReport,
    SplitReport,
    build_report,
    read_report,
    write_report,
)
from tasks.quality.reports import ValidateReport
from tasks.reporting.explain_report import ExplainReport, ExplainSummary
from tasks.reporting.promotion_report import GateOutcome, PromotionReport, PromotionStatus, Verdict

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_METRICS = ROOT / "reports" / "metrics.json"
COMMITTED_PROMOTION = ROOT / "reports" / "promotion.json"


def test_committed_metrics_json_is_byte_identical_through_the_model(tmp_path):
    report = read_report(EvaluateReport, COMMITTED_METRICS)
    write_report(report, tmp_path / "metrics.json")
    assert (tmp_path / "metrics.json").read_bytes() == COMMITTED_METRICS.read_bytes()


def test_metrics_json_fields_are_typed_not_string_keys():
    report = read_report(EvaluateReport, COMMITTED_METRICS)
    lgbm = report.models["lightgbm"]
    assert isinstance(lgbm, Metrics) and lgbm.value(report.primary_metric) == lgbm.roc_auc
    iv = report.interval("lightgbm", "roc_auc")
    assert iv is not None and iv.low is not None and iv.high is not None and iv.low <= lgbm.roc_auc <= iv.high
    assert all(seg.rows > 0 for by_value in report.segments.values() for seg in by_value.values())
    with pytest.raises(KeyError):
        lgbm.value("roc_acu")  # a typo is an error, not a silent None


def test_regression_report_keeps_absent_fields_absent_and_nulls_null(tmp_path):
    data = {"task": "regression", "primary_metric": "rmse", "test_rows": 10, "production_version": None,
            "models": {"lightgbm": {"rmse": 1.5, "mae": float("nan"), "r2": 0.25}},
            "lift": {"over_baseline": 0.1}, "intervals": {"lightgbm": {"rmse": {
                "low": 1.0, "high": 2.0, "method": "bootstrap", "rows": 10, "n_samples": 5, "resample_rows": 10,
                "resamples": 5}}}}
    write_report(EvaluateReport.model_validate(data), tmp_path / "m.json")
    assert (tmp_path / "m.json").read_text() == io.to_json(data)  # no confusion_matrix/classes key appears


def test_a_report_with_a_renamed_field_is_refused_naming_the_file(tmp_path):
    data = io.read_json(COMMITTED_METRICS)
    data["model"] = data.pop("models")
    io.write_json(data, tmp_path / "metrics.json")
    with pytest.raises(InputError, match="metrics.json"):
        read_report(EvaluateReport, tmp_path / "metrics.json")


def test_headline_read_through_the_model_equals_the_committed_headline():
    from tasks.reporting.headline import headline_metrics

    reports = ROOT / "reports"
    headline = headline_metrics(read_report(EvaluateReport, COMMITTED_METRICS), read_report(CvReport, reports / "cv.json"),
                                read_report(SplitReport, reports / "split.json"), read_report(IngestReport, reports / "ingest.json"),
                                read_report(PromotionReport, COMMITTED_PROMOTION))
    assert io.to_json(headline) == (reports / "headline.json").read_text()


def test_committed_promotion_json_is_byte_identical_through_the_model(tmp_path):
    report = read_report(PromotionReport, COMMITTED_PROMOTION)
    write_report(report, tmp_path / "promotion.json")
    assert (tmp_path / "promotion.json").read_bytes() == COMMITTED_PROMOTION.read_bytes()
    assert isinstance(report.status, PromotionStatus) and isinstance(report.decision.outcome, GateOutcome)  # enums
    assert (report.status is PromotionStatus.REJECTED) == (report.decision.outcome is GateOutcome.REJECT)
    assert all(r.verdict is Verdict.FAIL for r in report.decision.failed)
    assert bool(report.decision.failed) == (report.decision.outcome is GateOutcome.REJECT)


def test_promotion_markdown_rendered_through_the_model_equals_the_committed_one():
    from tasks.evaluation.promotion import render_markdown

    report = read_report(PromotionReport, COMMITTED_PROMOTION)
    assert render_markdown(report) == (ROOT / "reports" / "promotion.md").read_text()


def test_an_unknown_status_is_refused(tmp_path):
    data = io.read_json(COMMITTED_PROMOTION)
    data["status"] = "promted"
    io.write_json(data, tmp_path / "promotion.json")
    with pytest.raises(InputError, match="status"):
        read_report(PromotionReport, tmp_path / "promotion.json")


def test_model_card_sections_read_through_the_models_equal_the_committed_card():
    from tasks.reporting import model_card

    card = io.read_json(ROOT / "reports" / "model_card.json")
    promotion = read_report(PromotionReport, COMMITTED_PROMOTION)
    inputs = model_card.read_card_inputs(ROOT / "reports")
    gate = model_card.gate_section(promotion.decision, promotion.status, card["version_id"],
                                   promotion.production_version)
    assert io.to_json(gate) == io.to_json(card["gate"])
    assert io.to_json(model_card.metrics_section(inputs)) == io.to_json(card["metrics"])
    assert io.to_json(model_card.segments_section(inputs, "roc_auc")) == io.to_json(card["segments"])


def test_findings_of_the_committed_reports_are_typed_and_feed_the_model_card_as_before():
    from tasks.reporting import model_card

    promotion = read_report(PromotionReport, COMMITTED_PROMOTION)
    validate = read_report(ValidateReport, ROOT / "reports" / "validate.json")
    split = read_report(SplitReport, ROOT / "reports" / "split.json")
    findings = [*promotion.suspects, *validate.suspects, *split.suspects]
    assert findings and all(isinstance(f, Finding) and isinstance(f.severity, FindingSeverity) for f in findings)
    assert validate.leakage is not None and validate.leakage.suspects == validate.suspects  # no value error here
    assert [f for f in promotion.suspects if f.severity is FindingSeverity.WARN] == split.suspects
    card = io.read_json(ROOT / "reports" / "model_card.json")
    shown = model_card.findings_section([f.to_data() for f in promotion.suspects])  # what write_cards hands the card
    assert io.to_json(shown) == io.to_json(card["findings"])


@pytest.mark.parametrize(("name", "model"), [("split", SplitReport), ("cv", CvReport), ("preprocess", PreprocessReport),
                                             ("ingest", IngestReport), ("validate", ValidateReport)])
def test_committed_step_reports_are_byte_identical_through_their_models(name, model, tmp_path):
    committed = ROOT / "reports" / f"{name}.json"
    report = read_report(model, committed)
    write_report(report, tmp_path / f"{name}.json")
    assert (tmp_path / f"{name}.json").read_bytes() == committed.read_bytes()
    assert build_report(model, io.read_json(committed)) == report


@pytest.mark.parametrize(("name", "model"), [("explain", ExplainReport), ("explain_summary", ExplainSummary)])
def test_committed_explain_reports_are_byte_identical_through_their_models(name, model, tmp_path):
    committed = ROOT / "reports" / "explain" / f"{name}.json"
    report = read_report(model, committed)
    write_report(report, tmp_path / f"{name}.json")
    assert (tmp_path / f"{name}.json").read_bytes() == committed.read_bytes()


def test_a_step_report_with_a_renamed_field_is_refused_naming_the_field(tmp_path):
    data = io.read_json(ROOT / "reports" / "cv.json")
    data["n_folds"] = data.pop("n_splits")
    io.write_json(data, tmp_path / "cv.json")
    with pytest.raises(InputError, match=r"cv.json: not a CvReport .*n_splits"):
        read_report(CvReport, tmp_path / "cv.json")


def test_cv_summary_reads_models_as_statistics_and_flags_as_fields():
    cv = read_report(CvReport, ROOT / "reports" / "cv.json")
    summary = cv.schemes[cv.refit_scheme() or ""].summary
    assert set(summary.models()) == {"lightgbm", "baseline"} and isinstance(summary.high_variance, bool)
    assert summary.model("lightgbm")["roc_auc"].mean is not None and summary.model("nothing") == {}
