"""Small step reports shaped like the real ones, for tests that write or render them (every required field set)."""

from __future__ import annotations

from typing import Any

COUNTS = dict.fromkeys(("rows", "gx_sample_rows", "columns", "expectations", "failed_error", "failed_warn",
                        "drift_warn", "drift_error"), 0)


def validate_report_data(**fields: Any) -> dict[str, Any]:
    """Return a passing reports/validate.json's data (no failure, no drift, no suspect), with fields replaced."""
    return {"passed": True, "counts": COUNTS, "failures": [], "suspects": [], "drift": {"columns": {}}, "profile": {},
            "data_docs": "gx/uncommitted/data_docs/local_site/index.html", "fail_on_drift": False,
            "suite_mismatch": None, "suite": {"name": "tabgate", "file": "gx/expectations/tabgate.json",
                                              "reference_profile": "gx/reference_profile.json"}, **fields}
