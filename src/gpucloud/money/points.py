"""Points: the one unit of money. Decimal, quantized to 0.0001 with ROUND_HALF_EVEN, never a float.

Amounts are computed exactly (as :class:`fractions.Fraction` where a division is involved) and rounded once,
at the end, to :data:`QUANTUM`. Floats (seconds from a clock, numbers from YAML) enter only through
:func:`exact`, which reads a float by its shortest decimal ``repr`` (``0.1`` → ``Decimal("0.1")``), so a price
typed as ``0.9375`` is exactly 0.9375.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

#: The smallest amount of points: every amount in the ledger is a whole multiple of it.
QUANTUM = Decimal("0.0001")
_SCALE = 10_000  # 1 / QUANTUM

ZERO = Decimal("0.0000")

Number = int | float | Decimal | Fraction


def exact(value: Number) -> Fraction:
    """``value`` as an exact fraction; a float is read by its shortest decimal form (``repr``)."""
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return Fraction(value)
    return Fraction(value)


def points(value: Number) -> Decimal:
    """Round ``value`` to a whole number of quanta (0.0001), half to even, as a Decimal with 4 places."""
    if isinstance(value, Decimal):
        return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
    scaled = round(exact(value) * _SCALE)  # round() on a Fraction rounds half to even, exactly
    return (Decimal(scaled) / _SCALE).quantize(QUANTUM)


def is_points(value: object) -> bool:
    """True for a finite Decimal that is already a whole number of quanta (what the ledger stores)."""
    return isinstance(value, Decimal) and value.is_finite() and value == value.quantize(QUANTUM)
