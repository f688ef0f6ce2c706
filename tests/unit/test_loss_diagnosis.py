"""Loss diagnosis: when the challenger loses to the baseline, promotion.json/.md say what the reports show and what
to try; when it does not, they say nothing."""

from types import SimpleNamespace

from tasks import cv, evaluate, preprocess, promote, split, train
from tasks.core import io
from tasks.evaluation.diagnosis import diagnose_loss
from tests.support.drifting import drifting_project
from tests.support.reports import train_report


def rule(value: float, passed: bool) -> SimpleNamespace:
    """Return a stand-in for the gate's lift-over-baseline RuleResult."""
    return SimpleNamespace(rule="lift over baseline", value=value, threshold=0.0, passed=passed)


TREE_COUNT = {
    "validation_best_iteration": 2,
    "fold_best_iterations": [3, 3],
    "fold_median": 3,
    "chosen": 2,
    "source": "validation",
    "why": "validation (2) and the folds' median (3) agree within 3x",
}
TRAIN = train_report(
    refit={"rows": 800, "early_stopping_iteration": 2, "n_estimators": 3, "tree_count": TREE_COUNT},
    tree_count=TREE_COUNT,
    validation_vs_folds={
        "metric": "roc_auc",
        "validation": 0.5,
        "folds": [0.8, 0.82],
        "outlier": True,
        "why": "validation roc_auc 0.5 is far",
    },
)
DRIFTED = {"adversarial": {"roc_auc": 0.93, "top_features": [{"feature": "year"}]}, "label": {"psi": 0.2}}


def test_no_diagnosis_when_the_challenger_beats_the_baseline():
    assert diagnose_loss([rule(0.02, True)], "roc_auc", TRAIN, "row_order", DRIFTED, [], []) is None


def test_a_loss_on_drifting_data_names_the_evidence_and_suggests_recency_weights_and_a_time_split():
    d = diagnose_loss([rule(-0.03, False)], "roc_auc", TRAIN, "random", DRIFTED, ["adr"], ["random folds optimistic"])
    text = " ".join(d.evidence)
    assert "loses to the linear baseline on roc_auc by 0.0300" in text and "3 trees" in text
    assert "0.930" in text and "PSI 0.200" in text and "adr" in text and "random folds optimistic" in text
    steps = " ".join(d.try_next)
    assert "train.recency_half_life" in steps and "split.strategy: time" in steps and "learning_rate" in steps
    already = diagnose_loss(
        [rule(-0.03, False)], "roc_auc", TRAIN.model_copy(update={"recency_half_life": 0.25}), "time", DRIFTED, [], []
    )
    assert not any("recency_half_life" in s for s in already.try_next)  # already on: not suggested again


def test_promotion_report_explains_a_loss_to_the_baseline_on_a_drifting_table(tmp_path):
    cfg = drifting_project(tmp_path, promote={"min_lift_over_baseline": 0.5})  # it loses anyway (-0.025)
    for step in (split, preprocess, cv, train, evaluate):
        step.run(cfg)
    report = promote.run(cfg)
    assert report.diagnosis is not None and report.diagnosis.lost_to == "baseline"
    text = " ".join(report.diagnosis.evidence)
    assert "trees" in text and "folds" in text  # the tree count and validation-vs-folds evidence from train.json
    assert any("recency_half_life" in s for s in report.diagnosis.try_next)
    md = (cfg.paths.reports_dir / "promotion.md").read_text()
    assert "## Why the model lost to the baseline" in md and "What to try:" in md
    assert io.read_json(cfg.paths.reports_dir / "promotion.json")["diagnosis"]["try_next"]


def test_the_run_summary_carries_the_diagnosis(monkeypatch):
    from flows import artifacts
    from tasks.reporting.promotion_report import LossDiagnosis

    seen: dict = {}
    monkeypatch.setattr(artifacts, "create_markdown_artifact", lambda **kw: seen.update(kw))
    d = LossDiagnosis(
        lost_to="baseline", primary_metric="roc_auc", lift=-0.02, evidence=["3 trees"], try_next=["train.recency_half_life"]
    )
    artifacts.publish_run_summary({"reports": {"promote": SimpleNamespace(diagnosis=d)}})
    assert "lost to the baseline" in seen["markdown"] and "train.recency_half_life" in seen["markdown"]
    artifacts.publish_run_summary({"reports": {}})
    assert "lost to" not in seen["markdown"]
