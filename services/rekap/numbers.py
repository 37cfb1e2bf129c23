"""Numbers as Indonesians write them, one format for every document Rekap makes (the public site, the
recapitulation report, the demo's table): 1.234.567 and 93,48% ("-" where there is none)."""

from __future__ import annotations


def angka(value: object) -> str:
    """An integer with a dot between thousands: 1.234.567."""
    return "-" if value is None else f"{int(value):,}".replace(",", ".")  # type: ignore[call-overload]


def persen(value: object, decimals: int = 2) -> str:
    """A percentage with a decimal comma: 93,48%."""
    if value is None:
        return "-"
    return f"{float(value):.{decimals}f}".replace(".", ",") + "%"  # type: ignore[arg-type]
