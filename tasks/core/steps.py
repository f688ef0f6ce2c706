"""The nine pipeline steps, in dvc.yaml order: the one list the flow, the CLI and the tests read."""

from __future__ import annotations

STEPS: tuple[str, ...] = ("ingest", "validate", "split", "preprocess", "cv", "train", "evaluate", "explain", "promote")
