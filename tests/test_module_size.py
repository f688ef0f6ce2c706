"""Rooms of one purpose: no module in tasks/ grows past MAX_LINES lines (house style; issue 23).

A module that does several jobs is split along its seams (as tasks/quality/validation.py became suite, gx_store,
verdicts, messages, table_profile and the gate) rather than allowed to grow; this test says which file and by how much.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 500


def line_counts(folder: Path) -> dict[str, int]:
    """Return {path relative to the project: number of lines} for every Python module under folder."""
    return {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(folder.rglob("*.py"))
    }


def test_line_counts_see_every_module_of_tasks():
    counts = line_counts(ROOT / "tasks")
    assert "tasks/validate.py" in counts and "tasks/quality/validation.py" in counts
    assert counts["tasks/validate.py"] == (ROOT / "tasks/validate.py").read_text(encoding="utf-8").count("\n")


def test_no_module_in_tasks_is_over_500_lines():
    too_long = {path: n for path, n in line_counts(ROOT / "tasks").items() if n > MAX_LINES}
    assert too_long == {}, f"modules over {MAX_LINES} lines (split each along its seams into modules of one purpose): {too_long}"
