"""Numbers as Indonesians write them, one format for every document Rekap makes (the public site, the
recapitulation report, the demo's table): 1.234.567 and 93,48% ("-" where there is none); and a share
rounded as the hasil views round it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def angka(value: object) -> str:
    """An integer with a dot between thousands: 1.234.567."""
    return "-" if value is None else f"{int(value):,}".replace(",", ".")  # type: ignore[call-overload]


def persen(value: object, decimals: int = 2) -> str:
    """A percentage with a decimal comma: 93,48%."""
    if value is None:
        return "-"
    return f"{float(value):.{decimals}f}".replace(".", ",") + "%"  # type: ignore[arg-type]


def percent(part: int | None, whole: int | None) -> Decimal | None:
    """100 * part / whole to two decimals, halves away from zero, as PostgreSQL's round() gives the views'
    percentages (None of nothing)."""
    if part is None or not whole:
        return None
    return (Decimal(100 * part) / whole).quantize(Decimal("0.01"), ROUND_HALF_UP)
