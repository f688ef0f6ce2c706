"""Monitoring trend: the prediction summary, one trend line per monitored batch, the table rows and the SVG chart
(one point per batch), and monitor_batch appending to reports/monitoring_trend.jsonl."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from flows.artifacts import chart_markdown
from tasks.core import io
from tasks.quality.gx_store import profile_path
from tasks.serving import monitor
from tasks.serving.trend import (
    CHART_BATCHES,
    TREND_FILE,
    PredictionSummary,
    TrendEntry,
    append_trend,
    drift_verdict,
    prediction_summary,
    read_trend,
    trend_entry,
    trend_rows,
    trend_svg,
)
from tests.conftest import make_config, synthetic_frame
from tests.unit.test_monitor import ConstantModel, profile_of

SVG = "{http://www.w3.org/2000/svg}"


def entry(i: int, live: float | None = 0.8, mean: float | None = 0.3) -> TrendEntry:
    preds = None if mean is None else PredictionSummary(rows=100, what="mean P(positive)", mean=mean)
    return TrendEntry(
        batch=f"incoming/b{i}.csv",
        at=f"2026-01-{i + 1:02d}T00:00:00+00:00",
        rows=100 + i,
        predictions=preds,
        drift="ok",
        metric="roc_auc",
        live=live,
        reference=0.9,
        labelled_rows=100 if live is not None else 0,
    )


def points(svg: str, css: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)
    return [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(f"{SVG}circle") if c.get("class") == css]


def test_binary_and_regression_summaries_give_the_mean_and_quantiles():
    s = prediction_summary(np.array([0.1, 0.2, 0.3, 0.4, 1.0]), "binary", [0, 1])
    assert (s.rows, s.what, s.mean) == (5, "mean P(positive)", 0.4)
    assert s.quantiles == {"p10": pytest.approx(0.14), "p50": 0.3, "p90": pytest.approx(0.76)} and s.class_shares == {}
    assert prediction_summary(np.array([10.0, 20.0]), "regression", []).what == "mean predicted value"


def test_multiclass_summary_gives_the_share_of_rows_given_each_class():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    s = prediction_summary(proba, "multiclass", ["a", "b", "c"])
    assert s.class_shares == {"a": 0.5, "b": 0.25, "c": 0.25}
    assert s.mean == pytest.approx((0.7 + 0.8 + 0.6 + 0.6) / 4, abs=1e-4) and s.quantiles == {}


def test_drift_verdict_names_the_worst_level_first():
    cols = {"a": {"level": "warn"}, "b": {"level": "error"}, "c": {"level": "ok"}, "d": {"level": "error"}}
    assert drift_verdict({"columns": cols}) == "error: b, d"
    assert drift_verdict({"columns": {"a": {"level": "warn"}}}) == "warn: a"
    assert drift_verdict({"columns": {"a": {"level": "ok"}}}) == "ok"


def test_the_trend_file_accumulates_one_line_per_batch(tmp_path):
    path = tmp_path / "reports" / TREND_FILE
    assert read_trend(path) == []
    for i in range(3):
        append_trend(entry(i, live=0.8 + i / 100), path)
    with open(path, "a") as fh:
        fh.write('{"batch": "torn')  # a crash mid-line
    got = read_trend(path)
    assert [e.batch for e in got] == [f"incoming/b{i}.csv" for i in range(3)]
    assert [e.live for e in got] == pytest.approx([0.8, 0.81, 0.82]) and got[0] == entry(0)
    append_trend(entry(3), path)  # after the torn line, on a line of its own
    assert [e.batch for e in read_trend(path)] == [f"incoming/b{i}.csv" for i in (0, 1, 2, 3)]


def test_table_rows_are_newest_first_with_live_metric_beside_promotion():
    rows = trend_rows([entry(0), entry(1, live=None), entry(2, live=0.75, mean=0.41)])
    assert [r["n"] for r in rows] == [3, 2, 1]
    assert (rows[0]["live"], rows[0]["at_promotion"], rows[0]["prediction_mean"]) == ("0.7500", "0.9000", "0.4100")
    assert rows[0]["predictions"] == "mean P(positive) 0.4100; " and rows[1]["live"] == ""
    assert {"batch", "when", "rows", "predictions", "drift", "live", "at_promotion"} <= set(rows[0])
    many = trend_rows([entry(i) for i in range(CHART_BATCHES + 5)])
    assert len(many) == CHART_BATCHES and many[0]["n"] == CHART_BATCHES + 5


def test_the_chart_has_one_point_per_batch_in_batch_order():
    entries = [entry(i, live=None if i == 2 else 0.8 + i / 100, mean=0.2 + i / 50) for i in range(6)]
    svg = trend_svg(entries)
    means, lives = points(svg, "mean-point"), points(svg, "metric-point")
    assert len(means) == 6 and len(lives) == 5  # batch 3 had no labels: no live point
    assert [x for x, _ in means] == sorted(x for x, _ in means) and len({x for x, _ in means}) == 6
    ys = [y for _, y in means]
    assert ys == sorted(ys, reverse=True)  # a rising mean goes up the picture (SVG y grows downwards)
    assert {x for x, _ in lives} == {x for i, (x, _) in enumerate(means) if i != 2}
    assert "batch (6 of 6)" in svg and 'class="reference"' in svg


def test_the_chart_shows_only_the_last_batches_and_survives_none():
    svg = trend_svg([entry(i) for i in range(CHART_BATCHES + 7)])
    assert len(points(svg, "mean-point")) == CHART_BATCHES and f"({CHART_BATCHES} of {CHART_BATCHES + 7})" in svg
    empty = trend_svg([])
    assert points(empty, "mean-point") == [] and "no value yet" in empty
    ET.fromstring(trend_svg([entry(0)]))  # one batch: still a valid picture


def test_the_chart_markdown_embeds_the_svg_as_a_data_uri_image():
    svg = trend_svg([entry(0), entry(1)])
    md = chart_markdown(svg, "Monitoring trend")
    (data,) = re.findall(r"!\[Monitoring trend\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", md)
    assert base64.b64decode(data).decode() == svg


def test_monitor_batch_appends_a_trend_line_with_the_batch_predictions(tmp_path, monkeypatch):
    cfg = make_config(tmp_path)
    io.write_json(profile_of(synthetic_frame(2000, seed=0)), profile_path(cfg.paths))
    monkeypatch.setattr(monitor, "production_reference", lambda reg: (ConstantModel(), "v0001-abcdef12", {"roc_auc": 0.7}))
    monkeypatch.setattr(monitor, "read_batch", lambda path, cfg: pd.read_csv(path))
    for seed, rows in ((5, 400), (6, 300)):
        synthetic_frame(rows, seed=seed).to_csv(tmp_path / f"batch{seed}.csv", index=False)
        report = monitor.monitor_batch(cfg, tmp_path / f"batch{seed}.csv")
    got = read_trend(cfg.paths.reports_dir / TREND_FILE)
    assert [(e.batch, e.rows) for e in got] == [(str(tmp_path / "batch5.csv"), 400), (str(tmp_path / "batch6.csv"), 300)]
    df = synthetic_frame(300, seed=6)
    expected = float(np.mean(1 / (1 + np.exp(-3 * df["x1"].to_numpy()))))
    assert got[-1].predictions is not None and got[-1].predictions.mean == pytest.approx(expected, abs=1e-4)
    assert got[-1].live == report["performance"]["live"] and got[-1].reference == 0.7
    assert report["step_version"] == monitor.STEP_VERSION == "3" and got[-1] == trend_entry(report, got[-1].at)


def test_a_batch_without_a_production_model_or_labels_still_gets_its_line():
    report = {
        "batch": "b.csv",
        "rows": 10,
        "production_version": None,
        "drift": {"columns": {}},
        "performance": {"judged": False, "rows": 0, "metric": "roc_auc", "note": "no label column"},
        "predictions": monitor.batch_predictions(None, pd.DataFrame({"x": [1]}), "binary", "label"),
        "retrain": False,
    }
    e = trend_entry(report, "t")
    assert (e.predictions, e.prediction_note, e.live, e.drift) == (None, "no production model in the registry", None, "ok")
    assert trend_rows([e])[0]["predictions"] == "no production model in the registry"
