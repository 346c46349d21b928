"""Small validators used by the domain constructors; each raises DomainError naming the field."""

from __future__ import annotations

import math
from enum import Enum
from typing import TypeVar

from raytrade.core.errors import DomainError

E = TypeVar("E", bound=Enum)


def finite(value: float, field: str) -> float:
    """``value`` as a float, refusing NaN, infinities, booleans and non-numbers."""
    if isinstance(value, bool):
        raise DomainError(f"{field} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DomainError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise DomainError(f"{field} must be finite, got {value!r}")
    return x


def positive(value: float, field: str) -> float:
    """``value`` as a finite float > 0."""
    x = finite(value, field)
    if x <= 0:
        raise DomainError(f"{field} must be > 0, got {value!r}")
    return x


def non_negative(value: float, field: str) -> float:
    """``value`` as a finite float >= 0."""
    x = finite(value, field)
    if x < 0:
        raise DomainError(f"{field} must be >= 0, got {value!r}")
    return x


def member(enum: type[E], value: object, field: str) -> E:
    """``value`` as a member of ``enum`` (accepts the member or its string value)."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise DomainError(f"{field} must be one of [{allowed}], got {value!r}") from None


def at_most(value: float, limit: float, field: str) -> float:
    """``value`` (a finite float) when it is <= ``limit``."""
    if value > limit:
        raise DomainError(f"{field} must be at most {limit:g}, got {value!r}")
    return value


def identifier(value: object, field: str) -> str:
    """A non-empty string of printable characters without surrounding whitespace."""
    if not isinstance(value, str) or not value.strip() or value != value.strip() or not value.isprintable():
        raise DomainError(f"{field} must be a non-empty string of printable characters without surrounding "
                          f"spaces, got {value!r}")
    return value
