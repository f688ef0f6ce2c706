"""Tests for tasks/quality/findings.py: one shape for every finding, excused only with a reason for every column."""

from __future__ import annotations

import pytest

from tasks.core.errors import ConfigError
from tasks.quality.findings import blocking, check_named_columns, excuse_all, make_finding, stopping, unexcused_columns


def test_a_finding_is_excused_only_when_every_column_has_a_reason():
    pair = make_finding(["a", "b"], "target_relation", 1.0, 0.995, "suspect", "y = a + b", {"a": "known"})
    assert pair["excused"] is False and "reason" not in pair
    both = make_finding(["a", "b"], "target_relation", 1.0, 0.995, "suspect", "y = a + b", {"a": "x", "b": "y"})
    assert both["excused"] is True and both["reason"] == "a: x; b: y"
    assert set(both) >= {"columns", "check", "value", "threshold", "severity", "detail", "excused"}


def test_errors_are_never_excused_and_blocking_means_unexcused_suspects():
    error = make_finding(["adr"], "impossible_value", 1e8, 100, "error", "corrupt", {"adr": "x"})
    suspect = make_finding(["post"], "dominance", 0.3, 0.1, "suspect", "d", {})
    warn = make_finding(["x"], "feature_shift", 0.2, 0.1, "warn", "d", {})
    assert error["excused"] is False
    assert blocking([error, suspect, warn]) == [suspect] and stopping([error, suspect, warn]) == [error]
    assert unexcused_columns([error, suspect, warn]) == ["post"]
    assert blocking(excuse_all([suspect], {"post": "recorded at booking"})) == []


def test_unknown_severity_is_a_bug():
    with pytest.raises(ValueError):
        make_finding(["x"], "c", 1, 1, "fatal", "d", {})


def test_naming_a_missing_column_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"validate\.keep_suspects\.nope: no column 'nope'") as err:
        check_named_columns(["a", "b"], {"a": "ok", "nope": "x"}, "validate.keep_suspects")
    assert err.value.exit_code == 2
    check_named_columns(["a"], {"a": "ok"}, "validate.keep_suspects")
