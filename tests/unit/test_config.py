"""Config: a typo or a missing key fails before any step runs, naming the key."""

from pathlib import Path

import pydantic
import pytest
import yaml

from tasks.core.config import load_config, parse_config
from tasks.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_repository_params_load_and_are_frozen():
    cfg = load_config(REPO / "params.yaml")
    assert cfg.data.target == "is_canceled"
    assert "reservation_status" in cfg.data.drop_columns
    with pytest.raises(pydantic.ValidationError):
        cfg.data.target = "other"  # frozen


def test_misspelt_key_is_named():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["split"]["tset_size"] = 0.1
    with pytest.raises(ConfigError, match=r"split\.tset_size: unknown key"):
        parse_config(raw)


def test_missing_required_key_is_named():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    del raw["data"]["target"]
    with pytest.raises(ConfigError, match=r"data\.target: required key is missing"):
        parse_config(raw)


def test_wrong_type_is_named():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["cv"]["n_splits"] = "five"
    with pytest.raises(ConfigError, match=r"cv\.n_splits"):
        parse_config(raw)


def test_target_cannot_be_dropped():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"]["drop_columns"]["is_canceled"] = "oops"
    with pytest.raises(ConfigError, match="also listed in data.drop_columns"):
        parse_config(raw)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_a_threshold_on_a_metric_the_task_lacks_fails_at_load():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["data"]["task"] = "regression"  # the hotel params' floors name roc_auc and pr_auc
    with pytest.raises(ConfigError, match=r"promote\.thresholds names pr_auc, roc_auc, which a regression task"):
        parse_config(raw)
    raw["promote"]["thresholds"] = {"rmse": 1e9, "r2": 0.1}
    assert parse_config(raw).promote.thresholds == {"rmse": 1e9, "r2": 0.1}


@pytest.mark.parametrize(
    "section,key,entry,message",
    [
        ("validate", "keep_suspects", {"country": "  "}, r"validate\.keep_suspects\.country: give the reason"),
        ("validate", "keep_suspects", {"country": None}, r"validate\.keep_suspects\.country"),
        ("split", "expected_shift", {"arrival_date_year": ""}, r"split\.expected_shift\.arrival_date_year: give the reason"),
        ("validate", "bounds", {"adr": [10, 0]}, r"validate\.bounds\.adr: expected \[min, max\] with min <= max"),
        ("validate", "bounds", {"adr": [None, None]}, r"validate\.bounds\.adr"),
    ],
)
def test_an_excuse_without_a_reason_or_bad_bounds_is_named(section, key, entry, message):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw[section][key] = entry
    with pytest.raises(ConfigError, match=message) as err:
        parse_config(raw)
    assert err.value.exit_code == 2


def test_repository_params_excuse_what_the_screen_names_on_the_sample_with_a_reason():
    cfg = load_config(REPO / "params.yaml")
    assert set(cfg.validate.keep_suspects) == {"country"}
    assert "soft leak" in cfg.validate.keep_suspects["country"]
    assert set(cfg.split.expected_shift) == {"arrival_date_year", "arrival_date_month", "arrival_date_week_number"}
