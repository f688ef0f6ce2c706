"""Scheduled runs whose input file has not arrived: they complete with a note instead of failing.

A schedule fires whether or not a batch was dropped at monitor.scoring_input / monitor.batch_path.
For a served deployment (parameter missing_ok, set by flows/deploy.py) a missing file is the normal
"nothing arrived" case: the run logs the note and publishes it as a markdown artifact under the
flow's usual key, so the UI shows why nothing happened. Run by hand (`tabgate score FILE`,
`tabgate monitor FILE`), a missing file is still an error (exit 3).
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact


def missing_input_note(path: str | Path, what: str) -> str | None:
    """Return "<what> at <absolute path>" when path does not exist, else None."""
    p = Path(path)
    return None if p.exists() else f"{what} at {p.absolute()}"


def publish_missing_input(note: str, key: str, setting: str) -> dict[str, str]:
    """Log note and publish it as the markdown artifact `key`; return {"skipped": note} (the run completes)."""
    get_run_logger().warning("%s: the scheduled run completes without doing anything", note)
    create_markdown_artifact(
        key=key,
        description=note,
        markdown=(
            f"## Nothing to do\n\n{note}\n\nThe schedule fired but no file is there. Put the batch at this path "
            f"(params.yaml `{setting}`, relative to the folder `tabgate serve` runs in) before the next scheduled run.\n"
        ),
    )
    return {"skipped": note}
