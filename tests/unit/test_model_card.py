"""Model card: built from the step reports, rendered as Markdown; missing reports are notes, not errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks.core import io
from tasks.core.config import DataParams, PromoteParams
from tasks.modelling.reports import TrainCompute
from tasks.reporting import card_inputs, card_markdown, model_card
from tasks.reporting.card_report import ModelCard
from tasks.reporting.promotion_report import Decision, PromotionStatus
from tests.support.reports import train_report_data

DATA = DataParams(
    target="label",
    task="binary",
    positive_label=1,
    time_column="when",
    drop_columns={"status": "written after the outcome (leak)", "notes|free": "free text | pipes"},
    segment_columns=["seg"],
)
META = {
    "kind": "lightgbm",
    "features": ["x1", "seg"],
    "numeric": ["x1"],
    "categorical": ["seg"],
    "class_weight": "balanced",
    "best_iteration": 42,
    "threshold": 0.37,
    "train_rows": 800,
}
DECISION = {
    "outcome": "reject",
    "primary_metric": "roc_auc",
    "first_model": False,
    "notes": [],
    "rules": [
        {
            "rule": "threshold roc_auc",
            "metric": "roc_auc",
            "value": 0.71,
            "threshold": 0.8,
            "passed": False,
            "reason": "roc_auc 0.71 misses the floor 0.8",
        },
        {
            "rule": "segments",
            "metric": "roc_auc",
            "value": None,
            "threshold": 0.05,
            "passed": None,
            "reason": "n/a: no segment columns",
        },
    ],
    "metrics": {},
}
VERSIONS = {
    "git_commit": "a" * 40,
    "git_dirty": False,
    "data_version": "d" * 32 + ".dir",
    "params_digest": "p" * 64,
    "bundle_digest": "b" * 64,
    "dvc": {
        "output": "artifacts/models",
        "path": "artifacts/models/lightgbm",
        "md5": "m" * 32 + ".dir",
        "artifact": "tabgate-model",
    },
}


def write_reports(reports: Path) -> None:
    """Write small versions of every report the card reads, shaped like the real ones."""
    io.write_json(
        {
            "step_version": "1",
            "rows": 1000,
            "columns": 4,
            "dtypes": {"x1": "float64"},
            "numeric_parse_failures": {},
            "snapshot": "src.csv",
            "snapshot_sha256": "s" * 64,
            "time_range": ["2020-01-01T00:00:00", "2021-12-31T00:00:00"],
        },
        reports / "ingest.json",
    )
    io.write_json(
        {
            "step_version": "2",
            "strategy": "time",
            "detail": {},
            "train": {"rows": 600},
            "valid": {"rows": 100},
            "test": {"rows": 200},
            "test_fingerprint": "f" * 64,
            "duplicate_rows_shared_train_test": 0,
        },
        reports / "split.json",
    )
    io.write_json(train_report_data(best_iteration=42), reports / "train.json")
    io.write_json(
        {
            "step_version": "1",
            "n_splits": 3,
            "rows": 800,
            "baseline_max_rows": 1000,
            "schemes": {
                "stratified": {
                    "folds": [{}, {}, {}],
                    "summary": {
                        "high_variance": True,
                        "lightgbm": {"roc_auc": {"mean": 0.8, "std": 0.05}, "threshold": {"mean": 0.5, "std": 0}},
                        "baseline": {"roc_auc": {"mean": 0.7, "std": 0.01}},
                    },
                }
            },
        },
        reports / "cv.json",
    )
    io.write_json(
        {
            "task": "binary",
            "primary_metric": "roc_auc",
            "test_rows": 200,
            "test_fingerprint": "fp",
            "models": {"lightgbm": {"f1": 0.6, "roc_auc": 0.71, "threshold": 0.37}, "baseline": {"f1": 0.5, "roc_auc": 0.65}},
            "intervals": {"lightgbm": {"roc_auc": {"low": 0.66, "high": 0.76, "n_samples": 50}}},
            "segments": {
                "seg": {"A": {"roc_auc": 0.9, "rows": 120}, "B": {"roc_auc": 0.55, "rows": 80}, "C": {"roc_auc": None, "rows": 3}}
            },
        },
        reports / "metrics.json",
    )
    sample = dict.fromkeys(
        (
            "test_rows",
            "errors_total",
            "errors_sampled",
            "correct_total",
            "correct_sampled",
            "sampled",
            "cap_sample_size",
            "cap_max_errors",
        ),
        0,
    )
    io.write_json(
        {
            "step_version": "1",
            "model": "lightgbm",
            "task": "binary",
            "shap_units": "log-odds",
            "sample": sample,
            "agreement": {},
            "worst_errors": {},
            "error_definition": "pred != y",
            "columns_left_out": {"when": "time column"},
            "summary": {
                "overall_error": 0.2,
                "test_rows": 0,
                "n_sampled": 0,
                "n_errors": 0,
                "n_errors_sampled": 0,
                "n_slices_flagged": 2,
                "n_warnings": 1,
            },
            "slices": {
                "measure": "error_rate",
                "rows": 200,
                "n_flagged": 2,
                "n_candidates": 30,
                "top": [
                    {"segment": "seg = B", "rows": 80, "error_rate": 0.4, "lift": 2.0, "z": 4.1, "drivers": [{"feature": "x1"}]},
                    {"segment": "x1 < 0", "rows": 60, "error_rate": 0.3, "lift": 1.5, "z": 3.2, "drivers": []},
                ],
            },
            "warnings": ["one feature carries 60% of |SHAP|"],
            "global_importance": [
                {"feature": "x1", "share": 0.6, "shap_rank": 1, "permutation_rank": 1},
                {"feature": "seg", "share": 0.4, "shap_rank": 2, "permutation_rank": 2},
            ],
        },
        reports / "explain" / "explain.json",
    )


def card_from(reports: Path, p: PromoteParams = PromoteParams()) -> ModelCard:
    return model_card.build_model_card(
        data=DATA,
        source="db://bookings",
        p=p,
        meta=META,
        inputs=card_inputs.read_card_inputs(reports),
        decision=Decision.model_validate(DECISION),
        status=PromotionStatus.REJECTED,
        version_id="v0002-12345678",
        production_version="v0001-87654321",
        versions=VERSIONS,
    )


def test_card_collects_every_section_from_the_reports(tmp_path):
    write_reports(tmp_path)
    card = card_from(tmp_path, PromoteParams(card_top_slices=1, card_top_features=1)).to_data()
    assert card["notes"] == []
    assert card["data"]["columns_left_out"] == {
        "notes|free": "free text | pipes",
        "status": "written after the outcome (leak)",
        "when": "time column",
    }
    assert card["data"]["rows_by_split"] == {"train": 700, "valid": 100, "test": 200}
    assert card["training"]["class_weight"] == "balanced" and card["training"]["threshold"] == 0.37
    rows = {r["metric"]: r for r in card["metrics"]["rows"]}
    assert list(rows) == ["roc_auc", "f1"]  # primary-first order, threshold is not a metric
    assert (rows["roc_auc"]["low"], rows["roc_auc"]["high"], rows["roc_auc"]["baseline"]) == (0.66, 0.76, 0.65)
    assert card["cv"]["schemes"]["stratified"]["models"]["lightgbm"] == {"roc_auc": {"mean": 0.8, "std": 0.05}}
    assert [r["value"] for r in card["segments"]["seg"]] == ["B", "A", "C"]  # weakest first, undefined last
    weak = card["weaknesses"]
    assert [s["segment"] for s in weak["weakest_slices"]] == ["seg = B"] and weak["weakest_slices"][0]["drivers"] == ["x1"]
    assert [d["feature"] for d in weak["top_drivers"]] == ["x1"] and weak["warnings"]
    assert [r["passed"] for r in card["gate"]["rules"]] == [False, None]
    assert card["versions"]["dvc"]["md5"].endswith(".dir")
    assert card["training"]["compute"] == {"engine": "local", "lightgbm_dask": False}  # from train.json


def test_markdown_has_each_section_and_escapes_table_cells(tmp_path):
    write_reports(tmp_path)
    md = card_markdown.render_model_card(card_from(tmp_path))
    for heading in (
        "# Model card: v0002-12345678",
        "## Data",
        "## Training",
        "## Test metrics",
        "## Cross-validation",
        "## Segments",
        "## Known weaknesses",
        "## Promotion gate",
        "## Versions",
    ):
        assert heading in md
    assert "| roc_auc | 0.7100 | [0.6600, 0.7600] | 0.6500 |" in md
    assert "| roc_auc | 0.8000 ± 0.0500 | 0.7000 ± 0.0100 |" in md and "HIGH VARIANCE" in md
    assert "| `notes\\|free` | free text \\| pipes |" in md
    assert "| threshold roc_auc | 0.7100 | 0.8000 | **FAIL** | roc_auc 0.71 misses the floor 0.8 |" in md
    assert "from 2020-01-01 to 2021-12-31" in md and "one feature carries 60% of \\|SHAP\\|" not in md
    tables, current = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            current.append(len(re.findall(r"(?<!\\)\|", line)))  # unescaped pipes = columns + 1
        elif current:
            tables.append(current)
            current = []
    assert len(tables) == 7 and all(len(set(t)) == 1 for t in tables), tables


def test_missing_reports_are_noted_not_fatal(tmp_path):
    card = card_from(tmp_path / "nothing_here")
    assert len(card.notes) == len(card_inputs.REPORTS)
    assert any("explain" in n and "missing" in n for n in card.notes)
    md = card_markdown.render_model_card(card)
    assert "(the explain report was not available)" in md and "## Notes" in md
    assert card.data.columns_left_out == dict(sorted(DATA.drop_columns.items()))  # from the config still
    assert card.training.best_iteration == 42  # from the bundle's meta


def test_broken_report_is_noted(tmp_path):
    write_reports(tmp_path)
    (tmp_path / "cv.json").write_text("{ not json")
    card = card_from(tmp_path)
    assert [n for n in card.notes if n.startswith("input not available: cv")]
    assert card.cv.schemes == {}


def test_written_card_is_deterministic(tmp_path):
    write_reports(tmp_path)
    a = model_card.write_model_card(card_from(tmp_path), tmp_path / "a.md", tmp_path / "a.json")
    b = model_card.write_model_card(card_from(tmp_path), tmp_path / "b.md", tmp_path / "b.json")
    assert a == b == (tmp_path / "a.md").read_text()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


@pytest.mark.parametrize(
    "value,text", [(None, "n/a"), (True, "true"), (1234567, "1,234,567"), (0.123456, "0.1235"), (12345.6, "12,346")]
)
def test_number_formatting(value, text):
    assert card_markdown._f(value) == text


def test_training_section_says_where_the_folds_and_the_final_model_ran():
    dask = TrainCompute(engine="dask", lightgbm_dask=True)
    lines = card_markdown.render_compute(dask, "lightgbm.dask (all rounds)")
    assert lines == ["- compute: engine dask (cv and tuning folds); final LightGBM: lightgbm.dask (all rounds)"]
    local = card_markdown.render_compute(TrainCompute(engine="local", lightgbm_dask=False), None)
    assert local == ["- compute: engine local (cv and tuning folds); final LightGBM: LightGBM in this process"]
    assert card_markdown.render_compute(None, None) == []  # a train.json written before the compute record
