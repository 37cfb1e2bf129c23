"""The simulated terminals' photos: each form's C.Hasil sheet drawn as the paper would look, its numbers
written as if by hand, saved as a JPEG (no metadata: what a terminal sends after stripping it).

The paper carries what the KPPS wrote; the typed form may say otherwise (a Sirekap-style misread): then the
photo shows the paper's numbers and a reviewer sees why the form was held. The same numbers always give the
same bytes (the hand's wobble is seeded by them), so a form sent again names the same photo.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

Form = dict[str, Any]
WIDTH, ROW, TOP = 760, 44, 150
PAPER, INK, PRINT = 244, (25, 40, 120), 30
MEDIA_TYPE = "image/jpeg"


def _rows(form: Form) -> list[tuple[str, int]]:
    voters, ballots = form["voters"], form["ballots"]
    rows = [
        ("I.1 Pemilih terdaftar (DPT) laki-laki", voters["registered"]["male"]),
        ("I.1 Pemilih terdaftar (DPT) perempuan", voters["registered"]["female"]),
        ("I.2 Pengguna hak pilih DPT laki-laki", voters["voted"]["dpt"]["male"]),
        ("I.2 Pengguna hak pilih DPT perempuan", voters["voted"]["dpt"]["female"]),
        ("I.3 Pindahan (DPTb) laki-laki / perempuan", voters["voted"]["moved_in"]["male"]),
        ("", voters["voted"]["moved_in"]["female"]),
        ("I.4 Tambahan (DPK) laki-laki / perempuan", voters["voted"]["added"]["male"]),
        ("", voters["voted"]["added"]["female"]),
        ("II.1 Surat suara diterima", ballots["received"]),
        ("II.2 Surat suara digunakan", ballots["used"]),
        ("II.3 Surat suara rusak", ballots["damaged"]),
        ("II.4 Surat suara tidak digunakan", ballots["unused"]),
    ]
    rows += [(f"III. Suara sah pasangan calon nomor {choice}", n) for choice, n in sorted(form["votes"].items())]
    rows += [("IV. Jumlah suara sah", form["valid"]), ("V. Jumlah suara tidak sah", form["invalid"])]
    return rows


@cache
def _fonts() -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, ...]:
    return ImageFont.load_default(size=17), ImageFont.load_default(size=30), ImageFont.load_default(size=22)


@cache
def _template(contest_id: str, labels: tuple[str, ...]) -> Image.Image:
    """The printed form, empty: the same for every TPS of a race."""
    small, _, heading = _fonts()
    image = Image.new("RGB", (WIDTH, TOP + len(labels) * ROW + 60), (PAPER, PAPER, PAPER - 8))
    draw = ImageDraw.Draw(image)
    race = "GUBERNUR DAN WAKIL GUBERNUR" if contest_id.startswith("pkwkp") else "BUPATI/WALIKOTA DAN WAKILNYA"
    draw.text((30, 24), "MODEL C.HASIL-KWK", font=heading, fill=PRINT)
    draw.text((30, 58), f"PEMILIHAN {race} 2024 ({contest_id})", font=small, fill=PRINT)
    for index, label in enumerate(labels):
        y = TOP + index * ROW
        draw.rectangle((24, y, WIDTH - 24, y + ROW), outline=PRINT, width=1)
        draw.line((WIDTH - 200, y, WIDTH - 200, y + ROW), fill=PRINT, width=1)
        draw.text((34, y + 13), label, font=small, fill=PRINT)
    return image


def draw_sheet(paper: Form) -> bytes:
    """The sheet of `paper` (a form's dict: the numbers the KPPS wrote), as JPEG bytes."""
    small, hand, _ = _fonts()
    rows = _rows(paper)
    tps_id = paper["tps_id"]
    image = _template(paper["contest_id"], tuple(label for label, _ in rows)).copy()
    draw = ImageDraw.Draw(image)
    draw.text((30, 84), f"TPS {tps_id[-3:]}   kode {tps_id}", font=small, fill=PRINT)
    seed = hashlib.sha256(json.dumps(rows).encode() + tps_id.encode()).digest()
    wobble = random.Random(seed)  # noqa: S311 (a hand's wobble, not a secret)
    for index, (_, number) in enumerate(rows):
        y = TOP + index * ROW
        x = WIDTH - 180 + wobble.randint(-8, 18)
        draw.text((x, y + 6 + wobble.randint(-4, 4)), str(number), font=hand, fill=INK)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=60)
    return out.getvalue()


def photo_entry(data: bytes, sheet: int = 1) -> dict[str, Any]:
    """What a form says of this photo (tally contract v1, `photos`)."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "media_type": MEDIA_TYPE, "sheet": sheet}
