"""Tests for tasks/quality/findings.py: one shape for every finding, excused only with a reason for every column."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tasks.core import io
from tasks.core.errors import ConfigError
from tasks.quality.findings import (
    Finding,
    FindingSeverity,
    blocking,
    check_named_columns,
    excuse_all,
    make_finding,
    stopping,
    unexcused_columns,
    with_excuse,
)


def test_a_finding_is_excused_only_when_every_column_has_a_reason():
    pair = make_finding(["a", "b"], "target_relation", 1.0, 0.995, "suspect", "y = a + b", {"a": "known"})
    assert pair.excused is False and pair.reason is None and "reason" not in pair.to_data()
    both = make_finding(["a", "b"], "target_relation", 1.0, 0.995, "suspect", "y = a + b", {"a": "x", "b": "y"})
    assert both.excused is True and both.reason == "a: x; b: y"
    assert set(both.to_data()) == {"columns", "check", "value", "threshold", "severity", "detail", "excused", "reason"}
    assert with_excuse(both, {"a": "x"}).to_data() == pair.to_data()  # re-excused: the reason goes with the excuse


def test_errors_are_never_excused_and_blocking_means_unexcused_suspects():
    error = make_finding(["adr"], "impossible_value", 1e8, 100, "error", "corrupt", {"adr": "x"})
    suspect = make_finding(["post"], "dominance", 0.3, 0.1, "suspect", "d", {})
    warn = make_finding(["x"], "feature_shift", 0.2, 0.1, "warn", "d", {})
    assert error.excused is False and error.severity is FindingSeverity.ERROR
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


def test_a_finding_holds_its_evidence_as_the_report_file_does():
    """numpy numbers become JSON numbers, only the evidence given is written, and an unknown field is an error."""
    f = make_finding(
        ["adr"],
        "declared_bounds",
        np.int64(3),
        0,
        "error",
        "3 values below 0",
        {},
        rows=np.int64(3),
        share=np.float64(0.25),
        examples=[np.int64(-1), -2.5],
        limits=[0, None],
    )
    assert f.to_data() == {
        "columns": ["adr"],
        "check": "declared_bounds",
        "value": 3.0,
        "threshold": 0.0,
        "severity": "error",
        "detail": "3 values below 0",
        "excused": False,
        "rows": 3,
        "share": 0.25,
        "examples": [-1, -2.5],
        "limits": [0, None],
    }
    assert Finding.model_validate_json(io.to_json(f.to_data())) == f
    with pytest.raises(ValidationError):
        make_finding(["x"], "c", 1, 1, "warn", "d", {}, not_a_field=1)
