"""Great Expectations Data Docs in a real browser (headless Chromium through chromedriver), as a person reads them:
the verdict of a clean run is "Succeeded" although Great Expectations validated a sample too small for the
row-count rule, the tables are drawn, and the pages ask no other host for anything (they must open offline)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.quality.rule_counts import sample_rows
from tasks.quality.validation import bootstrap_suite, validate_frame
from tests.conftest import make_config
from tests.support.browser import PageView

pytestmark = pytest.mark.integration

STATUS = re.compile(r"Status:\s*\S?\s*(Succeeded|Failed)")


def bookings(n: int, seed: int) -> pd.DataFrame:
    """Return a clean bookings-like frame: unique ids, past arrivals, two hotels, a 0/1 label."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "booking_id": np.arange(n),
            "arrival": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "lead_time": rng.integers(0, 300, n).astype(float),
            "hotel": pd.Categorical(rng.choice(["City", "Resort"], n)),
            "is_canceled": rng.integers(0, 2, n),
        }
    )


def validated_docs(root: Path, df: pd.DataFrame) -> tuple[dict, Path, Path]:
    """Bootstrap the suite on 3,000 reference rows, validate df on a 1,000-row GX sample; return the report, the
    Data Docs index and the page of this validation."""
    cfg = make_config(
        root,
        data={
            "target": "is_canceled",
            "task": "binary",
            "time_column": "arrival",
            "id_column": "booking_id",
            "categorical_columns": [],
            "segment_columns": [],
            "drop_columns": {},
        },
        validate={"min_rows": 100, "gx_max_rows": 1000},
    )
    bootstrap_suite(bookings(3000, seed=0), cfg.paths, cfg.data, cfg.validate)
    report = validate_frame(df, cfg.paths, cfg.data, cfg.validate)
    index = Path(report.data_docs)
    [page] = index.parent.glob("validations/**/*.html")
    return report, index, page


def off_host(view: PageView) -> list[str]:
    """Return the network URLs the page requested (http, https, ws): a page that opens offline requests none."""
    return [u for u in view.requested if u.startswith(("http://", "https://", "ws://", "wss://"))]


def verdict(view: PageView) -> str | None:
    """Return the Status a person reads on a validation page: Succeeded, Failed, or None (blank or unreadable)."""
    found = STATUS.search(view.text)
    return found[1] if found else None


def test_data_docs_of_a_clean_run_say_succeeded_and_open_offline(webdriver, chromium, tmp_path):
    """5,000 clean rows against a 3,000-row reference (row-count rule: 1,500..6,000): GX's 1,000-row sample alone
    would fail that rule and the page would say Failed."""
    report, index, page = validated_docs(tmp_path / "project", bookings(5000, seed=1))
    assert report.passed and report.counts.gx_sample_rows == 1000
    view = webdriver.view(page.resolve().as_uri(), chromium, tmp_path / "profile-page")
    (tmp_path / "page.txt").write_text(view.text)  # to read after a failure
    assert verdict(view) == "Succeeded", view.text[:2000]
    assert "Failed" not in view.text, "a clean run's page shows a failure"
    assert "5000" in view.text, "the row count shown is not the whole table's"
    assert view.visible_rows > 20, f"the expectation tables are not drawn ({view.visible_rows} visible rows)"
    assert off_host(view) == [], f"the page requests other hosts: {off_host(view)[:10]}"
    home = webdriver.view(index.resolve().as_uri(), chromium, tmp_path / "profile-index")
    assert "Success" in home.text and home.visible_rows >= 2, home.text[:2000]
    assert off_host(home) == [], f"the index requests other hosts: {off_host(home)[:10]}"


def test_the_same_check_reads_failed_when_the_run_failed(webdriver, chromium, tmp_path):
    """The check above can fail: one duplicated id outside GX's sample makes the page say Failed."""
    df = bookings(5000, seed=1)
    rows = sample_rows(len(df), 1000, 42)
    outside = np.setdiff1d(np.arange(len(df)), rows)
    df.loc[outside[:2], "booking_id"] = 4999
    report, _, page = validated_docs(tmp_path / "project", df)
    assert not report.passed
    view = webdriver.view(page.resolve().as_uri(), chromium, tmp_path / "profile")
    assert verdict(view) == "Failed", view.text[:2000]
