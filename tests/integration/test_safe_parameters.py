"""Parameters as the UI's custom-run form passes them: refused before anything is written, project files unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

# Each call is what the deployment's run form would start: the flow function with those parameters.
SCRIPT = r"""
import json, sys
from flows.monitoring import monitoring_flow
from flows.scoring import scoring_flow
from flows.training import training_flow
outside = sys.argv[1]
calls = [("scoring", dict(input_path="incoming.csv", output_path=o)) for o in
         ("registry/production.json", "params.yaml", "../outside.csv", outside + "/elsewhere.csv",
          "artifacts/split/test.parquet", "data/hotel_bookings.csv.gz", "link/out.csv")]
calls += [("scoring", dict(input_path="../outside.csv", output_path="predictions/out.csv")),
          ("scoring", dict(input_path="incoming.csv", output_path="predictions/out.csv", params="../other.yaml")),
          ("training", dict(params="../other.yaml")), ("training", dict(params=outside + "/other.yaml")),
          ("training", dict(require_approval=False)),
          ("monitoring", dict(batch="../outside.csv")), ("monitoring", dict(params="../other.yaml"))]
flows = {"scoring": scoring_flow, "training": training_flow, "monitoring": monitoring_flow}
out = []
for name, kw in calls:
    try:
        flows[name](**kw)
        out.append([name, kw, "ran", ""])
    except Exception as err:
        out.append([name, kw, type(err).__name__, str(err), getattr(err, "exit_code", None)])
print("RESULT" + json.dumps(out))
"""


def digest(root: Path) -> dict[str, str]:
    """Return sha256 per file below root (everything a refused run could have written)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_unsafe_run_parameters_are_refused_and_write_nothing(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    for item in ("tasks", "flows"):
        shutil.copytree(REPO / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    for f in ("registry/production.json", "data/hotel_bookings.csv.gz", "artifacts/split/test.parquet", "dvc.lock"):
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(f"original {f}")
    (root / "incoming.csv").write_text("a,b\n1,2\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(REPO / "params.yaml", tmp_path / "other.yaml")
    shutil.copy(REPO / "params.yaml", elsewhere / "other.yaml")
    (tmp_path / "outside.csv").write_text("a,b\n1,2\n")
    os.symlink(elsewhere, root / "link")
    before, outside_before = digest(root), digest(tmp_path / "elsewhere")
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "PREFECT_HOME": str(tmp_path / "prefect_home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(elsewhere)], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stderr[-4000:]
    results = json.loads(lines[-1][len("RESULT") :])
    assert len(results) == 14
    for name, kw, kind, message, code in results:
        assert (kind, code) == ("UnsafeParameter", 2), (name, kw, kind, message)
        assert next(iter(k for k in ("output_path", "input_path", "params", "batch", "require_approval") if k in message)), (
            message
        )
    assert digest(root) == before
    assert digest(tmp_path / "elsewhere") == outside_before
    assert (tmp_path / "outside.csv").read_text() == "a,b\n1,2\n"
    db = sqlite3.connect(tmp_path / "prefect_home" / "prefect.db")
    failures = [r[0] for r in db.execute("select data from artifact where key = 'run-failure'")]
    assert len(failures) == 14 and all("UnsafeParameter" in f and "parameter " in f for f in failures)
