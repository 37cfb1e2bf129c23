"""A page's data drawn as HTML: Bahasa Indonesia, numbers written the Indonesian way (1.234.567; 93,48%),
a small SVG chart of TPS counted over time, its own style inline and no external request."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from rekap.site.pages import Page

STATUS = {"counted": "masuk", "held": "ditahan untuk diperiksa", "missing": "belum masuk"}
CHART_WIDTH, CHART_HEIGHT = 320, 90


class _Environment(jinja2.Environment):
    """Reads `race.votes` as the key of a dict first (Jinja tries an attribute first, and the exception
    that follows, per lookup, was most of the time a page took to draw)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


_TEMPLATES = _Environment(
    loader=jinja2.PackageLoader("rekap.site", "templates"),
    autoescape=True,  # names come from master data, forms from terminals: escaped, whatever they hold
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def angka(value: object) -> Markup:
    """An integer as Indonesians write it: 1.234.567 ("-" when there is none). Digits and dots: safe."""
    if value is None:
        return Markup("-")
    return Markup(f"{int(value):,}".replace(",", "."))  # type: ignore[call-overload]  # noqa: S704


def persen(value: object) -> Markup:
    """A percentage with a decimal comma: 93,48% ("-" when there is none)."""
    if value is None:
        return Markup("-")
    return Markup(f"{float(value):.2f}".replace(".", ",") + "%")  # type: ignore[arg-type]  # noqa: S704


def chart(curve: list[tuple[str, int]], expected: int) -> dict[str, Any] | None:
    """The polyline of TPS counted over time, scaled to the chart (the top is every TPS expected)."""
    if not curve or not expected:
        return None
    start = datetime.fromisoformat(curve[0][0]) - timedelta(minutes=1)  # none counted a minute before the first
    curve = [(start.isoformat(timespec="minutes"), 0), *curve]
    first, last = curve[0][0], curve[-1][0]
    span = max(60.0, (datetime.fromisoformat(last) - start).total_seconds())
    points = " ".join(
        f"{(datetime.fromisoformat(minute) - start).total_seconds() * CHART_WIDTH / span:.1f},"
        f"{CHART_HEIGHT - counted * CHART_HEIGHT / expected:.1f}"
        for minute, counted in curve
    )
    return {"points": points, "first": first[11:16], "last": last[11:16], "width": CHART_WIDTH,
            "height": CHART_HEIGHT, "counted": curve[-1][1]}  # fmt: skip


_TEMPLATES.filters.update(angka=angka, persen=persen, status=lambda s: STATUS.get(s, s))
_TEMPLATES.globals.update(chart=chart)


def to_html(page: Page, built_at: str) -> str:
    """The page, saying when it was last written (`built_at`, in the page's zone, as text)."""
    json_href = page.path.rsplit("/", 1)[-1] + ".json"
    assets = "../" * page.path.count("/") + "assets/"
    return _TEMPLATES.get_template(page.template).render(
        page=page.data, built_at=built_at, json_href=json_href, assets=assets
    )


def assets() -> dict[str, bytes]:
    """The style and the script every page links (assets/NAME), as they are."""
    folder = resources.files("rekap.site") / "assets"
    return {name: (folder / name).read_bytes() for name in ("site.css", "site.js")}
