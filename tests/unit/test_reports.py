"""Reports: the typed contracts between steps (tasks.core.reports) keep the committed JSON byte for byte."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from tasks.core import io
from tasks.core.config import PromoteParams
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
from tasks.modelling.reports import ChoiceSource, TrainReport, TuningReport
from tasks.quality.reports import ValidateReport
from tasks.reporting.card_report import ModelCard
from tasks.reporting.explain_report import ExplainReport, ExplainSummary
from tasks.reporting.promotion_report import GateOutcome, PromotionReport, PromotionStatus, Verdict

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_METRICS = ROOT / "reports" / "metrics.json"
COMMITTED_PROMOTION = ROOT / "reports" / "promotion.json"
COMMITTED_CARD = ROOT / "reports" / "model_card.json"


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
    data = {
        "task": "regression",
        "primary_metric": "rmse",
        "test_rows": 10,
        "production_version": None,
        "models": {"lightgbm": {"rmse": 1.5, "mae": float("nan"), "r2": 0.25}},
        "lift": {"over_baseline": 0.1},
        "intervals": {
            "lightgbm": {
                "rmse": {
                    "low": 1.0,
                    "high": 2.0,
                    "method": "bootstrap",
                    "rows": 10,
                    "n_samples": 5,
                    "resample_rows": 10,
                    "resamples": 5,
                }
            }
        },
    }
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
    headline = headline_metrics(
        read_report(EvaluateReport, COMMITTED_METRICS),
        read_report(CvReport, reports / "cv.json"),
        read_report(SplitReport, reports / "split.json"),
        read_report(IngestReport, reports / "ingest.json"),
        read_report(PromotionReport, COMMITTED_PROMOTION),
    )
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
    from tasks.reporting import card_sections
    from tasks.reporting.card_inputs import read_card_inputs

    card = read_report(ModelCard, COMMITTED_CARD)
    promotion = read_report(PromotionReport, COMMITTED_PROMOTION)
    inputs = read_card_inputs(ROOT / "reports")
    assert inputs.missing == [] and inputs.train is not None  # train.json read through TrainReport too
    gate = card_sections.gate_section(promotion.decision, promotion.status, card.version_id, promotion.production_version)
    assert gate == card.gate and io.to_json(gate.to_data()) == io.to_json(card.gate.to_data())
    assert card_sections.metrics_section(inputs) == card.metrics
    segments = card_sections.segments_section(inputs, "roc_auc")
    assert io.to_json({c: [r.to_data() for r in rows] for c, rows in segments.items()}) == io.to_json(card.to_data()["segments"])
    assert card_sections.cv_section(inputs, "roc_auc") == card.cv
    assert card_sections.weaknesses_section(inputs, PromoteParams()) == card.weaknesses
    assert card_sections.findings_section(promotion.suspects) == card.findings


def test_committed_model_card_is_byte_identical_through_the_model_and_renders_the_committed_markdown(tmp_path):
    from tasks.reporting.card_markdown import render_model_card

    card = read_report(ModelCard, COMMITTED_CARD)
    write_report(card, tmp_path / "model_card.json")
    assert (tmp_path / "model_card.json").read_bytes() == COMMITTED_CARD.read_bytes()
    assert build_report(ModelCard, io.read_json(COMMITTED_CARD)) == card
    assert render_model_card(card) == (ROOT / "reports" / "model_card.md").read_text()
    assert card.status is PromotionStatus.PROMOTED and card.gate.outcome is GateOutcome.PROMOTE  # enums


@pytest.mark.parametrize(("name", "model"), [("train", TrainReport), ("tuning", TuningReport)])
def test_committed_train_reports_are_byte_identical_through_their_models(name, model, tmp_path):
    committed = ROOT / "reports" / f"{name}.json"
    report = read_report(model, committed)
    write_report(report, tmp_path / f"{name}.json")
    assert (tmp_path / f"{name}.json").read_bytes() == committed.read_bytes()
    assert build_report(model, io.read_json(committed)) == report


def test_tuning_json_of_a_run_without_tuning_keeps_its_one_key(tmp_path):
    write_report(build_report(TuningReport, {"enabled": False}), tmp_path / "tuning.json")
    assert (tmp_path / "tuning.json").read_text() == io.to_json({"enabled": False})


def test_train_json_fields_are_typed_not_string_keys():
    train = read_report(TrainReport, ROOT / "reports" / "train.json")
    assert train.refit is not None and train.tree_count is not None and train.threshold_choice is not None
    assert train.refit.tree_count == train.tree_count and train.tree_count.source is ChoiceSource.VALIDATION
    assert train.threshold("lightgbm") == train.threshold_choice.chosen == train.validation_metrics["lightgbm"].threshold
    assert train.tuning is not None and train.tuned and train.choices.tuning_objective.source is ChoiceSource.FOLDS
    assert isinstance(train.lightgbm_params["num_leaves"], int)  # an int stays an int (same bytes)
    data = io.read_json(ROOT / "reports" / "train.json")
    data["tree_counts"] = data.pop("tree_count")
    with pytest.raises(ValidationError, match="tree_count"):
        TrainReport.model_validate(data)


def test_findings_of_the_committed_reports_are_typed():
    promotion = read_report(PromotionReport, COMMITTED_PROMOTION)
    validate = read_report(ValidateReport, ROOT / "reports" / "validate.json")
    split = read_report(SplitReport, ROOT / "reports" / "split.json")
    findings = [*promotion.suspects, *validate.suspects, *split.suspects]
    assert findings and all(isinstance(f, Finding) and isinstance(f.severity, FindingSeverity) for f in findings)
    assert validate.leakage is not None and validate.leakage.suspects == validate.suspects  # no value error here
    assert [f for f in promotion.suspects if f.severity is FindingSeverity.WARN] == split.suspects


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("split", SplitReport),
        ("cv", CvReport),
        ("preprocess", PreprocessReport),
        ("ingest", IngestReport),
        ("validate", ValidateReport),
    ],
)
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
