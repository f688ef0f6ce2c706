"""Config base: what every params.yaml section shares (frozen, unknown keys are errors) and the task types."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

TaskType = Literal["binary", "multiclass", "regression"]
DEFAULT_PARAMS = Path("params.yaml")


class Section(BaseModel):
    """Base of every params.yaml section: frozen, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
