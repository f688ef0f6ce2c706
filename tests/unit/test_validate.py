"""Tests for tasks/validate.py: the suite learnt from a frame, the bad-input matrix with the exact messages
a user sees, drift in the gate, and run() end to end (report, Data Docs, leakage, keep_suspects)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks import validate
from tasks.core import io
from tasks.core.config import Config, parse_config
from tasks.core.errors import ConfigError, InputError, ValidationFailed
from tasks.quality.gx_store import suite_path
from tasks.quality.messages import raise_for_report
from tasks.quality.suite import build_suite, gx_view
from tasks.quality.validation import bootstrap_suite, ensure_data_docs, validate_frame
from tasks.quality.verdicts import TABLE, suite_mismatch

SHARED = Path(__file__).parents[2].parent / "shared" / "data"
DOCS = "gx/uncommitted/data_docs/local_site/index.html"


def bookings(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A small typed booking table, as ingest writes it (strings as categories, a datetime time column)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "booking_id": np.arange(n),
            "lead_time": rng.integers(0, 300, n),
            "adr": rng.normal(100, 20, n).round(2),
            "hotel": pd.Categorical(rng.choice(["City", "Resort"], n)),
            "country": pd.Categorical(rng.choice(["PRT", "GBR", "ESP"], n)),
            "arrival_date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "is_canceled": rng.integers(0, 2, n),
        }
    )


def make_config(root: Path | None, **sections: dict) -> Config:
    """Return a Config whose paths live under root (relative to the cwd when root is None)."""
    base = Path(root) if root is not None else Path()
    raw: dict = {
        "paths": {
            "data_dir": str(base / "data"),
            "ingested": str(base / "artifacts/ingested.parquet"),
            "reports_dir": str(base / "reports"),
            "gx_dir": str(base / "gx"),
        },
        "data": {"target": "is_canceled", "task": "binary", "time_column": "arrival_date", "id_column": "booking_id"},
        "ingest": {"source": "unused.csv"},
        "validate": {"min_rows": 50},
    }
    for key, value in sections.items():  # a data section naming a target replaces the default one
        raw[key] = value if key == "data" and "target" in value else {**raw.get(key, {}), **value}
    return parse_config(raw)


def rule_of(definition: dict, column: str, rule: str) -> dict | None:
    return next(
        (e for e in definition["expectations"] if e["kwargs"].get("column", TABLE) == column and e["meta"]["rule"] == rule), None
    )


# ---------------------------------------------------------------- the suite (pure)


def test_suite_rules_carry_the_documented_severities():
    cfg = make_config(Path("/nonexistent"))
    suite = build_suite(bookings(), cfg.data, cfg.validate)
    severity = {(e["kwargs"].get("column", TABLE), e["meta"]["rule"]): e["meta"]["severity"] for e in suite["expectations"]}
    assert severity[("adr", "column_exists")] == "error"
    assert severity[("adr", "column_type")] == "error"
    assert severity[("adr", "not_all_null")] == "error"
    assert severity[("adr", "null_rate")] == "warn"
    assert severity[("adr", "value_range")] == "warn"
    assert severity[("country", "category_set")] == "warn"
    assert severity[("booking_id", "unique_id")] == "error"
    assert severity[("arrival_date", "time_not_future")] == "error"
    assert severity[("is_canceled", "label_domain")] == "error"
    assert severity[("is_canceled", "label_two_classes")] == "error"
    assert severity[("is_canceled", "label_not_null")] == "error"
    assert severity[(TABLE, "min_rows")] == "error"
    assert all(e["severity"] == {"error": "critical", "warn": "warning"}[e["meta"]["severity"]] for e in suite["expectations"])
    assert rule_of(suite, "country", "category_set")["kwargs"]["value_set"] == ["ESP", "GBR", "PRT"]
    assert rule_of(suite, "is_canceled", "label_domain")["kwargs"]["value_set"] == [0, 1]
    assert rule_of(suite, "arrival_date", "time_not_future")["kwargs"]["max_value"] == {"$PARAMETER": "now"}
    assert rule_of(suite, TABLE, "min_rows")["kwargs"]["min_value"] == 50
    assert rule_of(suite, "adr", "column_type")["meta"]["family"] == "numeric"
    assert rule_of(suite, "hotel", "column_type")["meta"]["family"] == "text"


def test_suite_tolerances_ranges_and_caps():
    df = bookings()
    df.loc[df.index % 10 == 0, "adr"] = np.nan  # 10% missing
    df["agent"] = np.arange(len(df)) % 60  # 60 distinct codes
    cfg = make_config(
        Path("/nonexistent"),
        validate={"max_categories_in_suite": 50, "range_margin": 0.1},
        data={"categorical_columns": ["agent"]},
    )
    suite = build_suite(df, cfg.data, cfg.validate)
    assert rule_of(suite, "adr", "null_rate")["kwargs"]["mostly"] == pytest.approx(0.85)
    assert rule_of(suite, "lead_time", "null_rate")["kwargs"]["mostly"] == pytest.approx(0.95)
    span = df["lead_time"].max() - df["lead_time"].min()
    lead = rule_of(suite, "lead_time", "value_range")["kwargs"]
    assert lead["min_value"] == pytest.approx(df["lead_time"].min() - 0.1 * span)
    assert lead["max_value"] == pytest.approx(df["lead_time"].max() + 0.1 * span)
    assert rule_of(suite, "agent", "category_set") is None  # 60 > max_categories_in_suite
    assert rule_of(suite, "agent", "value_range") is None  # a code, not a quantity


def test_suite_skips_dropped_columns_and_non_unique_ids():
    df = bookings().assign(status=pd.Categorical(["x"] * 240))
    df.loc[1, "booking_id"] = 0
    cfg = make_config(Path("/nonexistent"), data={"drop_columns": {"status": "after the outcome"}})
    suite = build_suite(df, cfg.data, cfg.validate)
    assert not [e for e in suite["expectations"] if e["kwargs"].get("column") == "status"]
    assert rule_of(suite, "booking_id", "unique_id") is None
    assert json.loads(json.dumps(suite)) == build_suite(df, cfg.data, cfg.validate)


def test_gx_view_gives_plain_dtypes_and_leaves_the_input_alone():
    df = pd.DataFrame(
        {
            "c": pd.Categorical(["a", None]),
            "n": pd.array([1, None], dtype="Int64"),
            "s": pd.Series(["x", None], dtype="string"),
            "cn": pd.Categorical([1.0, 2.0]),
            "t": pd.to_datetime(["2020-01-01", None]).tz_localize("UTC"),
        }
    )
    view = gx_view(df)
    assert view["c"].dtype == object and view["c"].tolist() == ["a", None]
    assert view["n"].dtype == "float64" and np.isnan(view["n"].iloc[1])
    assert view["s"].tolist() == ["x", None]
    assert view["cn"].dtype == "float64"
    assert str(view["t"].dtype).startswith("datetime64") and view["t"].dt.tz is None
    assert isinstance(df["c"].dtype, pd.CategoricalDtype) and str(df["n"].dtype) == "Int64"


# ---------------------------------------------------------------- the bad-input matrix (GX)


@pytest.fixture(scope="module")
def gx_cfg(tmp_path_factory) -> Config:
    """A GX project with a suite bootstrapped from bookings()."""
    cfg = make_config(tmp_path_factory.mktemp("project"))
    info = bootstrap_suite(bookings(), cfg.paths, cfg.data, cfg.validate)
    assert Path(info["suite"]).exists() and Path(info["reference_profile"]).exists()
    return cfg


def future(df: pd.DataFrame) -> pd.DataFrame:
    soon = pd.Timestamp.now() + pd.Timedelta(days=30)
    return df.assign(arrival_date=df["arrival_date"].where(df.index >= 3, soon))


BAD_INPUTS: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    ("missing column", lambda d: d.drop(columns=["adr"]), "column 'adr' [column_exists]: column is missing from the table"),
    (
        "renamed column",
        lambda d: d.rename(columns={"adr": "adr_eur"}),
        "column 'adr' [column_exists]: column is missing from the table; the table has new column(s) ['adr_eur'] (renamed?)",
    ),
    (
        "numbers as text",
        lambda d: d.assign(lead_time=d["lead_time"].astype(str)),
        "column 'lead_time' [column_type]: expected numeric values, found str in 240 row(s) (numbers stored as text?); "
        "e.g. ['255', '191', '153', '80', '92']",
    ),
    ("all-null column", lambda d: d.assign(adr=np.nan), "column 'adr' [not_all_null]: every value is missing"),
    (
        "empty table",
        lambda d: d.iloc[:0],
        "column '(table)' [min_rows]: the table has 0 rows; at least 50 are needed (validate.min_rows)",
    ),
    (
        "single-class label",
        lambda d: d.assign(is_canceled=0),
        "column 'is_canceled' [label_two_classes]: the label has 1 distinct value(s); at least 2 classes are needed",
    ),
    (
        "unknown label value",
        lambda d: d.assign(is_canceled=d["is_canceled"].where(d.index != 0, 7)),
        "column 'is_canceled' [label_domain]: 1 label value(s) outside the reference classes [0, 1]; e.g. [7]",
    ),
    (
        "null label",
        lambda d: d.assign(is_canceled=d["is_canceled"].astype(float).where(d.index != 0, np.nan)),
        "column 'is_canceled' [label_not_null]: 1 row(s) have no label; every row needs one",
    ),
    (
        "future timestamps",
        future,
        "column 'arrival_date' [time_not_future]: 3 timestamp(s) in the future (after now + 1 day); e.g. ['20",
    ),
    (
        "duplicated ids",
        lambda d: d.assign(booking_id=d["booking_id"].where(d.index != 6, 5)),
        "column 'booking_id' [unique_id]: 2 row(s) share an id with another row; e.g. [5]",
    ),
]


@pytest.mark.parametrize("name,mutate,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_stops_with_an_actionable_message(gx_cfg, name, mutate, message):
    report = validate_frame(mutate(bookings()), gx_cfg.paths, gx_cfg.data, gx_cfg.validate)
    assert report.passed is False
    assert report.counts.failed_error == 1, report.failures
    with pytest.raises(ValidationFailed) as err:
        raise_for_report(report, "reports/validate.json")
    text = str(err.value)
    assert text.startswith("1 problem(s) stop the pipeline:\n  - ")
    assert message in text
    assert text.endswith(f"Open reports/validate.json and {gx_cfg.paths.gx_dir / DOCS[3:]} for the details.")


def test_the_reference_itself_passes_without_any_failure(gx_cfg):
    report = validate_frame(bookings(), gx_cfg.paths, gx_cfg.data, gx_cfg.validate)
    assert report.passed is True
    assert report.failures == []
    assert report.counts.failed_warn == 0 and report.counts.expectations > 30
    assert Path(report.data_docs).exists()


def test_unseen_categories_warn_but_pass(gx_cfg):
    df = bookings()
    df["country"] = df["country"].astype(str).where(df.index % 10 != 0, "XXX")
    report = validate_frame(df, gx_cfg.paths, gx_cfg.data, gx_cfg.validate)
    assert report.passed is True
    (warning,) = report.failures
    assert (warning.column, warning.rule, warning.severity) == ("country", "category_set", "warn")
    assert warning.unexpected_count == 24 and warning.examples == ["XXX"]
    assert warning.detail == "24 value(s) not seen in the reference"
    raise_for_report(report, "reports/validate.json")  # does not raise


def test_range_and_drift_warn_and_can_be_made_to_fail(gx_cfg):
    df = bookings().assign(adr=lambda d: d["adr"] + 100)
    report = validate_frame(df, gx_cfg.paths, gx_cfg.data, gx_cfg.validate)
    assert report.passed is True
    rules = {(f.column, f.rule) for f in report.failures}
    assert ("adr", "value_range") in rules and ("adr", "central_range") in rules
    assert report.drift.columns["adr"].level == "error"
    assert report.drift.columns["adr"].value > 0.5
    assert report.drift.columns["lead_time"].value == pytest.approx(0.0, abs=1e-9)
    strict = make_config(gx_cfg.paths.gx_dir.parent, validate={"min_rows": 50, "fail_on_drift": True})
    strict_report = validate_frame(df, strict.paths, strict.data, strict.validate)
    assert strict_report.passed is False
    with pytest.raises(ValidationFailed, match=r"column 'adr' \[drift\]: psi \d+\.\d+ >= 0\.5"):
        raise_for_report(strict_report, None)


def test_unlabelled_file_can_skip_label_rules(gx_cfg):
    report = validate_frame(
        bookings().drop(columns=["is_canceled"]), gx_cfg.paths, gx_cfg.data, gx_cfg.validate, require_label=False
    )
    assert report.counts.failed_error == 0
    assert {f.rule for f in report.failures} == {"column_set"}


def churn_table(n: int = 240, seed: int = 1) -> pd.DataFrame:
    """A table of another project (customer churn) that shares only its id column with bookings()."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "booking_id": np.arange(n),
            "tenure": rng.integers(0, 72, n),
            "MonthlyCharges": rng.normal(60, 20, n).round(2),
            "Contract": pd.Categorical(rng.choice(["Month-to-month", "One year"], n)),
            "Churn": pd.Categorical(rng.choice(["No", "Yes"], n)),
        }
    )


def test_a_different_table_is_named_as_such_with_the_command_that_bootstraps_its_suite(gx_cfg):
    report = validate_frame(churn_table(), gx_cfg.paths, gx_cfg.data, gx_cfg.validate)
    assert report.passed is False
    assert report.suite_mismatch is not None and report.suite_mismatch.to_data() == {
        "suite_columns": 7,
        "table_columns": 5,
        "unknown": ["Churn", "Contract", "MonthlyCharges", "tenure"],
        "missing": ["adr", "arrival_date", "country", "hotel", "is_canceled", "lead_time"],
    }
    with pytest.raises(ValidationFailed) as err:
        raise_for_report(report, "reports/validate.json")
    text = str(err.value)
    assert err.value.exit_code == 3
    assert text.startswith(
        "6 of 7 suite columns are missing (e.g. ['adr', 'arrival_date', 'country', 'hotel', "
        "'is_canceled']) and 4 of 5 table columns are unknown to the suite (e.g. ['Churn', "
        "'Contract', 'MonthlyCharges', 'tenure']): this looks like a different table"
    )
    assert "`tabgate validate --bootstrap`" in text and str(suite_path(gx_cfg.paths, gx_cfg.validate)) in text
    assert "column 'adr'" not in text  # no wall of per-column failures: they stay in the report
    assert text.endswith(
        f"problem(s) follow from it; open reports/validate.json and {gx_cfg.paths.gx_dir / DOCS[3:]} for the details."
    )


def test_a_few_missing_columns_are_listed_one_by_one_not_called_another_table(gx_cfg):
    report = validate_frame(bookings().drop(columns=["adr", "country", "hotel"]), gx_cfg.paths, gx_cfg.data, gx_cfg.validate)
    assert report.suite_mismatch is None  # 3 of 7 missing: below OTHER_TABLE_SHARE
    with pytest.raises(ValidationFailed, match=r"^3 problem\(s\) stop the pipeline:\n  - column 'adr'"):
        raise_for_report(report, "reports/validate.json")


@pytest.mark.parametrize(
    "table,expected",
    [
        (["a", "b", "c", "x"], None),  # 1 of 4 missing
        (["a", "b", "x", "y"], {"missing": ["c", "d"], "unknown": ["x", "y"]}),  # 2 of 4: half is enough
        (["x"], {"missing": ["a", "b", "c", "d"], "unknown": ["x"]}),
    ],
)
def test_suite_mismatch_fires_from_half_of_the_suite_columns_missing(table, expected):
    got = suite_mismatch(["a", "b", "c", "d"], pd.DataFrame(columns=table))
    assert got == (None if expected is None else {"suite_columns": 4, "table_columns": len(table), **expected})


def test_validate_frame_needs_a_suite(tmp_path):
    cfg = make_config(tmp_path)
    with pytest.raises(InputError, match="no validation suite yet"):
        validate_frame(bookings(), cfg.paths, cfg.data, cfg.validate)


def test_gx_dir_must_be_named_gx(tmp_path):
    from tasks.core.errors import ConfigError

    cfg = make_config(tmp_path, paths={"gx_dir": str(tmp_path / "expectations")})
    with pytest.raises(ConfigError, match="folder named 'gx'"):
        bootstrap_suite(bookings(), cfg.paths, cfg.data, cfg.validate)


# ---------------------------------------------------------------- run() end to end


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty project directory as the cwd, so configured paths are relative like in the repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_first_run_bootstraps_writes_a_deterministic_report_and_docs(project, caplog):
    cfg = make_config(None)
    io.write_frame(bookings(), cfg.paths.ingested)
    caplog.set_level(logging.INFO, logger="tasks.validate")
    report = validate.run(cfg)
    assert "first run - bootstrapped suite gx/expectations/tabgate.json" in caplog.text
    assert "validate: PASSED - 240 rows" in caplog.text
    assert report.passed is True
    assert (project / "gx/expectations/tabgate.json").exists()
    assert (project / "gx/reference_profile.json").exists()
    assert (project / DOCS).exists() and report.data_docs == DOCS
    first = (project / "reports/validate.json").read_bytes()
    assert str(project) not in first.decode()  # no absolute paths
    saved = json.loads(first)
    assert saved["step_version"] == "2"
    assert saved["suspects"] == saved["leakage"]["suspects"] == []  # findings, machine-readable, none here
    from tasks.data.splitting import training_rows

    n_train = len(training_rows(bookings(), cfg.data, cfg.split))
    assert 150 < n_train < 240  # the time split holds out the latest ~20%
    assert saved["leakage"]["rows_training"] == n_train  # the screen saw the training rows only
    assert saved["profile"]["class_balance"] == {"0": pytest.approx(0.5, abs=0.1), "1": pytest.approx(0.5, abs=0.1)}
    assert saved["profile"]["duplicate_rows"] == 0 and saved["profile"]["missing"]["adr"] == 0
    assert set(saved["profile"]["outliers_iqr"]) == {"adr", "lead_time"}
    validate.run(cfg)
    assert (project / "reports/validate.json").read_bytes() == first  # deterministic across runs


def test_data_docs_are_built_where_a_fresh_clone_has_none(project):
    """gx/uncommitted is not versioned and DVC skips an up-to-date validate stage, so a fresh clone has a report that
    names Data Docs and no Data Docs: ensure_data_docs builds them (kept results first, else the ingested table)."""
    import shutil

    cfg = make_config(None)
    io.write_frame(bookings(), cfg.paths.ingested)
    validate.run(cfg)
    results = sorted((project / "gx/uncommitted/validations").rglob("*.json"))
    shutil.rmtree(project / "gx/uncommitted/data_docs")
    assert ensure_data_docs(cfg.paths, cfg.data, cfg.validate) == DOCS  # from the result GX kept: no new validation
    assert sorted((project / "gx/uncommitted/validations").rglob("*.json")) == results
    pages = list((project / "gx/uncommitted/data_docs/local_site/validations").rglob("*.html"))
    assert len(pages) == 1 and "Succeeded" in pages[0].read_text()
    shutil.rmtree(project / "gx/uncommitted")  # the fresh clone
    assert ensure_data_docs(cfg.paths, cfg.data, cfg.validate) == DOCS
    pages = list((project / "gx/uncommitted/data_docs/local_site/validations").rglob("*.html"))
    assert len(pages) == 1 and "Succeeded" in pages[0].read_text()
    shutil.rmtree(project / "gx/uncommitted")
    (project / cfg.paths.ingested).unlink()
    assert ensure_data_docs(cfg.paths, cfg.data, cfg.validate) is None and not (project / DOCS).exists()


def test_failing_run_writes_the_report_before_raising(project):
    cfg = make_config(None)
    io.write_frame(bookings(), cfg.paths.ingested)
    validate.run(cfg)
    io.write_frame(bookings().drop(columns=["adr"]), cfg.paths.ingested)
    with pytest.raises(ValidationFailed) as err:
        validate.run(cfg)
    assert "column 'adr' [column_exists]: column is missing from the table" in str(err.value)
    assert f"Open reports/validate.json and {DOCS} for the details." in str(err.value)
    saved = io.read_json(project / "reports/validate.json")
    assert saved["passed"] is False
    assert saved["failures"][0]["column"] == "adr" and saved["failures"][0]["severity"] == "error"


def test_planted_leak_is_a_suspect_that_does_not_stop_the_run_and_keep_suspects_excuses_it(project):
    df = bookings().assign(status=lambda d: pd.Categorical(np.where(d["is_canceled"] == 1, "Canceled", "Check-Out")))
    cfg = make_config(None)
    io.write_frame(df, cfg.paths.ingested)
    report = validate.run(cfg)  # a suspect blocks promotion (the promote step), not the run
    assert report.passed is True
    saved = io.read_json(project / "reports/validate.json")
    n_train = saved["leakage"]["rows_training"]
    assert n_train < 240
    assert saved["leakage"]["unexcused"] == ["status"]
    checks = {(tuple(f["columns"]), f["check"], f["severity"], f["excused"]) for f in saved["suspects"]}
    assert checks == {(("status",), "copy_of_label", "suspect", False), (("status",), "single_feature_auc", "suspect", False)}
    auc = next(f for f in saved["suspects"] if f["check"] == "single_feature_auc")
    assert (auc["value"], auc["threshold"], auc["rows"]) == (1.0, 0.98, n_train)
    assert auc["detail"] == f"alone it scores ROC-AUC 1.0000 >= 0.98 on {n_train} training rows"

    excused = make_config(None, validate={"min_rows": 50, "keep_suspects": {"status": "set at booking time"}})
    report = validate.run(excused)
    assert report.passed is True and report.leakage.unexcused == []
    assert {s.reason for s in report.suspects} == {"set at booking time"}

    dropped = make_config(None, data={"drop_columns": {"status": "written after the outcome"}})
    report = validate.run(dropped)
    assert report.passed is True
    assert report.leakage.excluded_by_configuration == {"status": "written after the outcome"}
    assert report.leakage.suspects == [] and "status" not in report.leakage.scores


@pytest.mark.parametrize(
    "key,entry,message",
    [
        ("keep_suspects", {"no_such_column": "known at booking"}, "validate.keep_suspects.no_such_column: no column"),
        ("bounds", {"no_such_column": [0, 1]}, "validate.bounds.no_such_column: no column"),
    ],
)
def test_params_naming_a_missing_column_are_a_config_error_naming_the_key(project, key, entry, message):
    cfg = make_config(None, validate={"min_rows": 50, key: entry})
    io.write_frame(bookings(), cfg.paths.ingested)
    with pytest.raises(ConfigError) as err:
        validate.run(cfg)
    assert err.value.exit_code == 2 and message in str(err.value)


def test_impossible_values_stop_the_run_whatever_their_share(project):
    cfg = make_config(None)
    io.write_frame(bookings(), cfg.paths.ingested)
    validate.run(cfg)  # bootstraps the suite from the clean table
    bad = bookings()
    bad.loc[bad.index[:5], "adr"] = 1e12  # 2% of the rows, the reference max is ~160
    io.write_frame(bad, cfg.paths.ingested)
    with pytest.raises(ValidationFailed) as err:
        validate.run(cfg)
    text = str(err.value)
    assert err.value.exit_code == 3
    assert "column 'adr' [impossible_value]: 5 value(s) (2.08%) beyond" in text
    assert "Open reports/validate.json" in text
    saved = io.read_json(project / "reports/validate.json")
    stop = [f for f in saved["suspects"] if f["severity"] == "error"]
    assert [(f["columns"], f["check"], f["threshold"], f["excused"]) for f in stop] == [
        (["adr"], "impossible_value", 100.0, False)
    ]
    assert stop[0]["value"] > 1e6 and stop[0]["examples"] == [1e12] and stop[0]["rows"] == 5
    # the drift measure sees it too: values beyond the reference range get bins of their own
    adr = saved["drift"]["columns"]["adr"]
    assert adr["level"] == "error" and adr["outside"]["share"] == pytest.approx(5 / 240, abs=1e-6)


def test_declared_bounds_stop_the_run(project):
    cfg = make_config(None, validate={"min_rows": 50, "bounds": {"adr": [0, None]}})
    df = bookings()
    df.loc[df.index[:2], "adr"] = -1.0  # inside the reference range widened, outside the declared bounds
    io.write_frame(df, cfg.paths.ingested)
    with pytest.raises(ValidationFailed) as err:
        validate.run(cfg)
    assert "column 'adr' [declared_bounds]: 2 value(s) (0.83%) outside the declared bounds [0, open]" in str(err.value)


# ---------------------------------------------------------------- the shared real tables

SHARED_TABLES = {
    "hotel": (
        "hotel_bookings.csv.gz",
        {
            "target": "is_canceled",
            "task": "binary",
            "time_column": "arrival_date",
            "categorical_columns": ["agent", "company"],
            "drop_columns": {"reservation_status": "after the outcome", "reservation_status_date": "after"},
        },
        {"time_from_parts": {"year": "arrival_date_year", "month": "arrival_date_month", "day": "arrival_date_day_of_month"}},
    ),
    "telco": (
        "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz",
        {"target": "Churn", "task": "binary", "positive_label": "Yes", "id_column": "customerID"},
        {"numeric_columns": ["TotalCharges"]},
    ),
    "kc": (
        "kc_house_data.csv.gz",
        {"target": "price", "task": "regression", "time_column": "date", "id_column": "id", "categorical_columns": ["zipcode"]},
        {"time_format": "%Y%m%dT%H%M%S"},
    ),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("table", sorted(SHARED_TABLES))
def test_bootstrap_suite_for_each_shared_table(table, tmp_path):
    from tasks.data.sources import read_snapshot, type_table

    file, data, ingest = SHARED_TABLES[table]
    if not (SHARED / file).exists():
        pytest.skip(f"shared data not available at {SHARED / file}")
    cfg = make_config(tmp_path, data=data, ingest={"source": str(SHARED / file), **ingest}, validate={"min_rows": 1000})
    df, _ = type_table(read_snapshot(SHARED / file, cfg.ingest), cfg.ingest, cfg.data)
    info = bootstrap_suite(df, cfg.paths, cfg.data, cfg.validate)
    suite = json.loads(Path(info["suite"]).read_text())
    report = validate_frame(df, cfg.paths, cfg.data, cfg.validate)
    assert report.counts.failed_error == 0, report.failures
    assert report.passed is True
    families = {e["kwargs"]["column"]: e["meta"]["family"] for e in suite["expectations"] if e["meta"]["rule"] == "column_type"}
    if table == "telco":
        assert families["TotalCharges"] == "numeric"  # the " " blanks were coerced by ingest
        assert report.profile["missing"]["TotalCharges"] == 11
        assert rule_of(suite, "customerID", "unique_id") is not None
        assert rule_of(suite, "Churn", "label_domain")["kwargs"]["value_set"] == ["No", "Yes"]
    elif table == "kc":
        assert families["date"] == "datetime"
        assert rule_of(suite, "date", "time_not_future") is not None
        assert rule_of(suite, "id", "unique_id") is None  # repeat sales: ids are not unique
        assert rule_of(suite, "price", "value_range") is not None
    else:
        assert rule_of(suite, "hotel", "category_set")["kwargs"]["value_set"] == ["City Hotel", "Resort Hotel"]
        assert not [e for e in suite["expectations"] if e["kwargs"].get("column") == "reservation_status"]
        assert report.profile["class_balance"]["1"] == pytest.approx(0.3704, abs=1e-4)


def test_the_validate_step_uses_validate_impossible_factor(project):
    """The step, not only the library: a value about 10 reference ranges out stops the run at factor 2, not at 100."""
    io.write_frame(bookings(), make_config(None).paths.ingested)
    validate.run(make_config(None))  # bootstraps the suite from the clean table (adr up to ~160)
    bad = bookings()
    bad.loc[bad.index[:3], "adr"] = 2000.0
    io.write_frame(bad, make_config(None).paths.ingested)

    def impossible(factor: float) -> list[dict]:
        try:
            validate.run(make_config(None, validate={"impossible_factor": factor}))
        except ValidationFailed:
            pass
        saved = io.read_json(project / "reports/validate.json")
        return [f for f in saved["failures"] if f["rule"] == "impossible_value"]

    [f] = impossible(2.0)
    assert f["column"] == "adr" and f["unexpected_count"] == 3 and "more than 2x the reference range" in f["detail"]
    assert impossible(100.0) == []
