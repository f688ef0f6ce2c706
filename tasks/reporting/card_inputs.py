"""Card inputs: the step reports a model card is built from, each read through its model; an absent or unreadable
one becomes a note in the card, never an error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tasks.core import io
from tasks.core.reports import CvReport, EvaluateReport, IngestReport, R, SplitReport, read_report
from tasks.modelling.reports import TrainReport
from tasks.reporting.explain_report import ExplainReport

# In the order their notes appear in a card's `notes` when absent.
REPORTS = {
    "train": "train.json",
    "metrics": "metrics.json",
    "ingest": "ingest.json",
    "split": "split.json",
    "cv": "cv.json",
    "explain": "explain/explain.json",
}


@dataclass(frozen=True)
class CardInputs:
    """The reports a card is built from (None when absent) and a note per absent or unreadable one."""

    missing: list[str] = field(default_factory=list)
    metrics: EvaluateReport | None = None
    ingest: IngestReport | None = None
    split: SplitReport | None = None
    cv: CvReport | None = None
    explain: ExplainReport | None = None
    train: TrainReport | None = None


def read_card_inputs(reports_dir: Path) -> CardInputs:
    """Return every report the card uses; an absent or broken one is noted, not raised."""
    missing: list[str] = []
    train = _read_noted(TrainReport, reports_dir, "train", missing)
    return CardInputs(
        missing,
        metrics=_read_noted(EvaluateReport, reports_dir, "metrics", missing),
        ingest=_read_noted(IngestReport, reports_dir, "ingest", missing),
        split=_read_noted(SplitReport, reports_dir, "split", missing),
        cv=_read_noted(CvReport, reports_dir, "cv", missing),
        explain=_read_noted(ExplainReport, reports_dir, "explain", missing),
        train=train,
    )


def _read_noted(model: type[R], reports_dir: Path, name: str, missing: list[str]) -> R | None:
    """Return one report through its model, or None with a note in missing when it is absent or does not fit."""
    try:
        return read_report(model, Path(reports_dir) / REPORTS[name])
    except io.InputError as err:
        missing.append(f"{name}: {err}")
        return None
