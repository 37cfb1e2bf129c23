"""The photo rules (rekap.domain.photos), each on real image bytes made here: what is stored, and each
refusal with its reason; the simulated terminals' sheets pass them all, and the same numbers draw the same
bytes."""

from __future__ import annotations

import hashlib
import io
import json
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rekap.domain.decode import Authentic, RawRecord, Rejected
from rekap.domain.photos import MAX_PIXELS, PhotoReason, inspect, inspect_bytes, media_type_of
from rekap.domain.reasons import RejectReason
from rekap.domain.tally import MAX_PHOTO_BYTES
from rekap.simulation.forms import encode
from rekap.simulation.night import misread
from rekap.simulation.sheets import draw_sheet, photo_entry
from tests.unit.world import make_world


def image(kind: str = "JPEG", size: tuple[int, int] = (300, 400), **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 190, 170)).save(out, kind, **options)
    return out.getvalue()


def keyed(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode()


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_a_plain_photo_is_stored_with_its_size_and_a_thumbnail(kind: str) -> None:
    data = image(kind)
    seen = inspect(keyed(data), data)
    assert seen.reason is None, seen.detail
    assert (seen.sha256, seen.size, seen.width, seen.height) == (hashlib.sha256(data).hexdigest(), len(data), 300, 400)
    assert seen.media_type == f"image/{kind.lower()}"
    assert seen.thumbnail is not None
    with Image.open(io.BytesIO(seen.thumbnail)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size[0] <= 240
        assert thumbnail.size[1] <= 340


def test_a_record_without_a_value_or_with_another_key_is_refused() -> None:
    data = image()
    assert inspect(keyed(data), None).reason is PhotoReason.NO_IMAGE
    assert inspect(keyed(data), b"").reason is PhotoReason.NO_IMAGE
    for key in (None, b"", keyed(data).upper(), keyed(image("PNG")), b"\xff\x00" * 40):
        seen = inspect(key, data)
        assert seen.reason is PhotoReason.KEY_NOT_DIGEST, key
        assert seen.sha256 == hashlib.sha256(data).hexdigest(), "kept by the digest of its bytes"


def test_more_than_2_mib_is_refused_before_it_is_decoded() -> None:
    data = image() + b"\0" * (MAX_PHOTO_BYTES + 1)
    assert inspect(keyed(data), data).reason is PhotoReason.TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [b"GIF89a" + b"\0" * 100, b"%PDF-1.7\n", b'{"schema":"tally/v1"}', b"\xff\xd8", b"\x89PNG\r\n"],
    ids=["gif", "pdf", "json", "half-jpeg-magic", "half-png-magic"],
)
def test_neither_jpeg_nor_png_by_its_first_bytes_is_refused(data: bytes) -> None:
    assert media_type_of(data) is None
    assert inspect(keyed(data), data).reason is PhotoReason.NOT_AN_IMAGE


def test_a_decompression_bomb_is_refused_by_its_header_before_its_pixels_are_decoded() -> None:
    # A PNG of 20,000 x 20,000 one-bit pixels: 56 KB of file, 400 million pixels (Pillow's own limit is 179
    # million), written by hand so that no test makes the image in memory.
    width = height = 20_000
    raw = zlib.compress((b"\0" + b"\0" * (width // 8)) * height, 9)
    data = _png(width, height, raw)
    assert len(data) < 1_000_000
    seen = inspect(keyed(data), data)
    assert seen.reason is PhotoReason.TOO_MANY_PIXELS
    bigger_than_ours = image("PNG", (8_000, 6_000))  # 48 million: under Pillow's limit, over ours
    assert MAX_PIXELS < 8_000 * 6_000
    assert inspect(keyed(bigger_than_ours), bigger_than_ours).reason is PhotoReason.TOO_MANY_PIXELS


def _png(width: int, height: int, compressed: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed) + chunk(b"IEND", b"")


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_a_photo_cut_short_or_corrupt_is_undecodable(kind: str) -> None:
    data = image(kind, (600, 800))
    cut = data[: len(data) * 2 // 3]
    assert inspect(keyed(cut), cut).reason is PhotoReason.UNDECODABLE
    garbled = data[:20] + bytes(random.Random(1).randbytes(200)) + data[220:]
    assert inspect(keyed(garbled), garbled).reason is PhotoReason.UNDECODABLE


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_bytes_after_the_image_s_end_are_refused(kind: str) -> None:
    data = image(kind) + b"PK\x03\x04 a zip file hidden in the photo"
    seen = inspect(keyed(data), data)
    assert seen.reason is PhotoReason.TRAILING_BYTES, seen.detail


def _with_exif(tags: dict[int, object], ifd: int | None = None) -> bytes:
    base = Image.new("RGB", (100, 100))
    exif = base.getexif()
    if ifd is None:
        for tag, value in tags.items():
            exif[tag] = value
    else:
        exif.get_ifd(ifd).update(tags)
    out = io.BytesIO()
    base.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (_with_exif({1: "S", 2: (3.0, 0.0, 0.0), 3: "E", 4: (104.0, 45.0, 0.0)}, 0x8825), "GPS"),
        (_with_exif({0xA431: "SN-0042"}, 0x8769), "BodySerialNumber"),
        (_with_exif({0xA435: "L-77"}, 0x8769), "LensSerialNumber"),
        (_with_exif({0xA430: "Budi"}, 0x8769), "CameraOwnerName"),
    ],
    ids=["gps", "body-serial", "lens-serial", "owner"],
)
def test_location_or_device_metadata_is_refused(data: bytes, said: str) -> None:
    seen = inspect(keyed(data), data)
    assert seen.reason is PhotoReason.IDENTIFYING_METADATA
    assert said in (seen.detail or "")


def test_xmp_gps_is_refused_and_harmless_exif_is_not() -> None:
    xmp = b'<x:xmpmeta><rdf:Description exif:GPSLatitude="3,0.0S"/></x:xmpmeta>'
    data = image("JPEG", xmp=xmp)
    assert inspect(keyed(data), data).reason is PhotoReason.IDENTIFYING_METADATA
    plain = _with_exif({0x0112: 1, 0x0131: "Terminal KPPS 2.1"})  # orientation, software: no one's identity
    assert inspect(keyed(plain), plain).reason is None


def test_a_simulated_sheet_passes_every_rule_and_the_same_numbers_draw_the_same_bytes() -> None:
    form = make_world().form(seed=7)
    sheet = draw_sheet(form)
    assert draw_sheet(json.loads(json.dumps(form))) == sheet, "a form sent again names the same photo"
    assert draw_sheet(misread(form, 1)) != sheet, "the paper of a misread form is not the typed numbers"
    seen = inspect_bytes(sheet, hashlib.sha256(sheet).hexdigest())
    assert seen.reason is None, seen.detail
    assert photo_entry(sheet) == {"sha256": seen.sha256, "bytes": len(sheet), "media_type": "image/jpeg", "sheet": 1}


def test_a_form_whose_photo_digest_changed_on_the_way_fails_its_signature() -> None:
    world = make_world()
    form = world.form()
    form["photos"] = [photo_entry(draw_sheet(form))]
    record = world.record(form)
    assert isinstance(world.decoder().decode(record), Authentic)
    swapped = dict(form, photos=[photo_entry(image())])  # another picture, the same numbers
    tampered = RawRecord(record.key, encode(swapped), record.headers)  # the terminal's signature kept
    decoded = world.decoder().decode(tampered)
    assert isinstance(decoded, Rejected)
    assert decoded.reason is RejectReason.BAD_SIGNATURE


SEEDS = {"JPEG": image("JPEG", (64, 48)), "PNG": image("PNG", (64, 48))}


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["JPEG", "PNG"]),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 10_000),
)
def test_no_bytes_make_the_rules_raise(kind: str, flips: list[tuple[int, int]], cut: int) -> None:
    """A photo record is any bytes a client sends: every mutation of an image gets a verdict, never an error."""
    data = bytearray(SEEDS[kind])
    for at, byte in flips:
        data[at % len(data)] = byte
    mutated = bytes(data[: max(1, len(data) - cut % len(data))])
    seen = inspect(keyed(mutated), mutated)
    assert seen.sha256 == hashlib.sha256(mutated).hexdigest()
    assert seen.reason is None or isinstance(seen.reason, PhotoReason)
