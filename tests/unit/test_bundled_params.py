"""The bundled params.yaml: what `tabgate init` writes for the bundled sample plus the sample's own reasoned
choices, and a configuration identical to the one the sample's committed run was made with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from flows.cli import build_parser, dispatch
from tasks.core.config import Config, effective_params, load_config
from tests.conftest import REPO

SAMPLE = REPO / "sample" / "hotel_bookings.csv.gz"  # the file data/ snapshots (data.dvc: 1148225 bytes)
# The effective configuration of the 209-line params.yaml the sample's committed run (reports/, dvc.lock) was made
# with, frozen before params.yaml was shrunk to its own choices. Regenerate only on purpose: a difference means
# the bundled sample's run changes.
FROZEN = Path(__file__).with_name("bundled_sample_config.json")

# Where the bundled params.yaml differs from what init writes for the sample, and why: the sample's own choices.
SAMPLE_CHOICES = {
    "data.drop_columns": "the leaks validate names on this table (init cannot know an outcome-time column)",
    "data.categorical_columns": "agent / company are numeric ID codes: init cannot tell codes from quantities",
    "data.segment_columns": "the business segments the gate compares with production: a choice of the user",
    "validate.min_rows": "a guard against a truncated export of this 119 390-row table",
    "validate.keep_suspects": "country excused with its reason (a choice only the user can make)",
    "split.test_start": "the latest six months as the test set (init never writes it)",
    "split.expected_shift": "the calendar columns whose shift a time split causes by construction",
    "cv.n_splits": "the sample's setting since its first configuration",
    "train.baseline_max_iter": "the sample's setting since its first configuration",
    "train.tune.enabled": "the sample is tuned",
    "train.tune.n_trials": "its trial budget",
    "promote.thresholds": "the floors this sample's use needs (init writes roc_auc 0.6, a floor above chance)",
    "monitor.passthrough_columns": "columns copied into the scored output to match predictions to bookings",
    "monitor.ignore_drift": "arrival_date_year drifts by construction in every new batch",
    "ingest.source": "relative to the project in params.yaml; init, run from elsewhere, writes the absolute path",
}


def flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return {dotted key: value} for nested sections; a mapping of columns or metrics stays one value."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and key not in SECTION_VALUES:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


SECTION_VALUES = {
    "drop_columns",
    "keep_suspects",
    "expected_shift",
    "ignore_drift",
    "thresholds",
    "bounds",
    "label_map",
}  # mappings of columns (or metrics) to values: one key each


def test_bundled_params_give_the_configuration_the_committed_run_was_made_with() -> None:
    frozen = flat(json.loads(FROZEN.read_text()))
    now = flat(effective_params(REPO / "params.yaml"))
    changed = {k: (v, now.get(k, "<missing>")) for k, v in frozen.items() if now.get(k, "<missing>") != v}
    assert changed == {}, "the bundled sample's run would change: key: (frozen, now)"
    assert load_config(REPO / "params.yaml") == Config.model_validate(json.loads(FROZEN.read_text()))


def test_bundled_params_hold_only_choices_and_what_dvc_needs() -> None:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    written = flat(raw)
    dvc_needs = {"validate.suite_name", "train.baseline_max_rows", "train.random_state"} | {
        k for k in written if k.startswith("paths.")
    }
    init_writes = {
        "data.target",
        "data.task",
        "data.positive_label",
        "data.time_column",
        "ingest.time_from_parts.year",
        "ingest.time_from_parts.month",
        "ingest.time_from_parts.day",
    }
    choices = {k for k in written if any(k == c or k.startswith(c + ".") for c in SAMPLE_CHOICES)}
    # LightGBM's knobs are written (at their defaults) so `dvc exp run -S train.lightgbm.num_leaves=63` finds them
    experiment_knobs = {k for k in written if k.startswith("train.lightgbm.")}
    assert set(written) - dvc_needs - init_writes - choices - experiment_knobs == set()


def test_init_on_the_bundled_sample_reproduces_its_settings(tmp_path: Path, capsys) -> None:
    assert dispatch(build_parser().parse_args(["init", str(SAMPLE), "--target", "is_canceled", "--dir", str(tmp_path)])) == 0
    init = load_config(tmp_path / "params.yaml")
    bundled = load_config(REPO / "params.yaml")
    # the table settings init is responsible for: the same as the bundled ones
    assert (
        (init.data.target, init.data.task, init.data.positive_label, init.data.time_column, init.data.id_column)
        == (bundled.data.target, bundled.data.task, bundled.data.positive_label, bundled.data.time_column, bundled.data.id_column)
        == ("is_canceled", "binary", 1, "arrival_date", None)
    )
    assert init.ingest.time_from_parts == bundled.ingest.time_from_parts
    assert Path(init.ingest.source) == SAMPLE and (REPO / bundled.ingest.source).resolve() == SAMPLE
    assert init.split.strategy == bundled.split.strategy == "auto"  # auto: a time split on arrival_date
    assert "reservation_status_date" in capsys.readouterr().out  # init lists it for review; the sample drops it
    # everything else differs only by the sample's documented choices
    a, b = flat(init.model_dump(mode="json", by_alias=True)), flat(bundled.model_dump(mode="json", by_alias=True))
    differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    assert differ == set(SAMPLE_CHOICES), {k: (a.get(k), b.get(k)) for k in differ ^ set(SAMPLE_CHOICES)}
