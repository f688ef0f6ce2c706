"""Step inputs: the config sections a step's library call reads, as one typed value instead of loose pieces.

A step (tasks/<step>.py) builds its input from the whole config with `from_config`; the library function it calls
takes that one value and reads fields. Adding a section a call needs is then one field here, not one more parameter
threaded through every caller.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tasks.core.config import ComputeParams, Config, CVParams, PreprocessParams, SplitParams, TrainParams
from tasks.core.table_params import DataParams


class CvInput(BaseModel):
    """What fold-based work reads (cross-validation, and tuning's folds): the data, cv, preprocess, train and split
    sections, and where the folds run (compute; None: in this process)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: DataParams
    cv: CVParams
    preprocess: PreprocessParams
    train: TrainParams
    split: SplitParams
    compute: ComputeParams | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> CvInput:
        """Return the sections of cfg that fold-based work reads."""
        return cls(data=cfg.data, cv=cfg.cv, preprocess=cfg.preprocess, train=cfg.train, split=cfg.split, compute=cfg.compute)
