"""Errors: the exceptions that mean "bad input, fix it" rather than a bug; callers exit non-zero on them."""

from __future__ import annotations

from tasks.config import ConfigError
from tasks.io import InputError
from tasks.model import ModelIntegrityError
from tasks.schema import SchemaError


class ValidationFailed(ValueError):
    """The data broke an error-severity expectation or the leakage screen; see the named report."""


class PromotionError(ValueError):
    """A registry or promotion request cannot be carried out as asked."""


USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError, InputError, SchemaError, ValidationFailed, PromotionError, ModelIntegrityError)
