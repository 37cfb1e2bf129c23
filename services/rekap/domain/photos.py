"""The photos of the forms' sheets, judged as they arrive on their own topic: one verdict per record.

A photo record's key is the SHA-256 of its value, in lowercase hex, and its value the image's exact bytes: the
bytes a form names by that digest (tally contract v1, `photos`). A photo is stored, and published beside the
numbers once a counted or held form names it, only if it passes every rule below; a refused one is kept
privately for review, never published. Its bytes are published exactly as signed, so nothing is stripped
here: a photo that carries location or device metadata is refused, and its terminal strips them before it
signs the form.

Pure: the image is decoded from the bytes in memory (Pillow), nothing is read or written.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, UnidentifiedImageError

from rekap.domain.tally import MAX_PHOTO_BYTES

MAX_PIXELS = 40_000_000  # a phone's photo of a sheet has 12 to 24 million; a decompression bomb has many more
THUMBNAIL_SIZE = (240, 340)  # the small image a TPS page shows, opening the full one
KEY_TEXT = 64  # a SHA-256 in hex

JPEG, PNG = "image/jpeg", "image/png"
EXTENSIONS = {JPEG: "jpg", PNG: "png"}
# The magic bytes each format starts with, and the bytes its last segment ends with (JPEG's EOI marker,
# PNG's IEND chunk with its CRC): bytes after them are a payload no image needs.
_STARTS = {JPEG: b"\xff\xd8\xff", PNG: b"\x89PNG\r\n\x1a\n"}
_ENDS = {JPEG: b"\xff\xd9", PNG: b"IEND\xaeB`\x82"}

# EXIF tags that say where a photo was taken or which device took it.
_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_IDENTIFYING = {
    0xA430: "CameraOwnerName",
    0xA431: "BodySerialNumber",
    0xA435: "LensSerialNumber",
    0xC62F: "CameraSerialNumber",
    0x927C: "MakerNote",  # the maker's own block: serial numbers, often
    0xA420: "ImageUniqueID",
}
_XMP_IDENTIFYING = (b"GPSLatitude", b"GPSLongitude", b"SerialNumber", b"OwnerName")


class PhotoReason(StrEnum):
    """Why a photo record was refused (rekap.photo_record.reason, and rekap.photo.reason)."""

    NO_IMAGE = "no_image"  # the record has no value
    KEY_NOT_DIGEST = "key_not_digest"  # its key is not the SHA-256 of its value, in lowercase hex
    TOO_LARGE = "too_large"  # more than 2 MiB
    NOT_AN_IMAGE = "not_an_image"  # neither JPEG nor PNG by its magic bytes
    TOO_MANY_PIXELS = "too_many_pixels"  # more than MAX_PIXELS: a decompression bomb, or no sheet's photo
    UNDECODABLE = "undecodable"  # JPEG or PNG by its first bytes, but not an image that decodes whole
    TRAILING_BYTES = "trailing_bytes"  # bytes after the image's end: a payload hidden in it
    IDENTIFYING_METADATA = "identifying_metadata"  # EXIF or XMP saying where it was taken or by which device


# Refusals that depend on the record, not on the bytes: the same bytes sent again rightly may be stored.
RECORD_REASONS = frozenset({PhotoReason.NO_IMAGE, PhotoReason.KEY_NOT_DIGEST})


@dataclass(frozen=True, slots=True)
class Inspected:
    """What a photo record's bytes are, and the rule they break (None: they pass every one)."""

    sha256: str | None  # of the value, hex; None: no value
    size: int
    media_type: str | None  # by the magic bytes; None: neither JPEG nor PNG
    width: int | None = None
    height: int | None = None
    reason: PhotoReason | None = None
    detail: str | None = None
    thumbnail: bytes | None = None  # a small JPEG, for a photo that passes

    @property
    def stored(self) -> bool:
        return self.reason is None


def media_type_of(data: bytes) -> str | None:
    """JPEG or PNG by the magic bytes; None: neither."""
    return next((media for media, magic in _STARTS.items() if data.startswith(magic)), None)


def inspect(key: bytes | None, value: bytes | None) -> Inspected:
    """Judge one photo record: each rule in turn, the first broken one is the verdict."""
    if value is None or not value:
        return Inspected(None, 0, None, reason=PhotoReason.NO_IMAGE, detail="the record has no value")
    digest = hashlib.sha256(value).hexdigest()
    inspected = inspect_bytes(value, digest)
    if key != digest.encode():
        shown = key[:KEY_TEXT].decode("ascii", "backslashreplace") if key is not None else "none"
        return Inspected(
            digest,
            len(value),
            inspected.media_type,
            inspected.width,
            inspected.height,
            PhotoReason.KEY_NOT_DIGEST,
            f"key {shown!r} is not the SHA-256 of the value ({digest})",
        )
    return inspected


def inspect_bytes(value: bytes, digest: str) -> Inspected:
    """The rules about the bytes alone."""
    seen = Inspected(digest, len(value), media_type_of(value))
    try:
        return _judged(value, seen)
    except _RefusedError as refused:
        return refused.inspected


class _RefusedError(Exception):
    def __init__(self, seen: Inspected, reason: PhotoReason, detail: str) -> None:
        super().__init__(detail)
        self.inspected = Inspected(seen.sha256, seen.size, seen.media_type, seen.width, seen.height, reason, detail)


def _judged(value: bytes, seen: Inspected) -> Inspected:
    """Each rule in turn; the first broken raises _RefusedError."""
    media = seen.media_type
    if seen.size > MAX_PHOTO_BYTES:
        raise _RefusedError(seen, PhotoReason.TOO_LARGE, f"{seen.size:,} bytes")
    if media is None:
        raise _RefusedError(seen, PhotoReason.NOT_AN_IMAGE, f"starts with {value[:8].hex()}, not JPEG/PNG")
    try:
        width, height, thumbnail = _decoded(value, seen, media)
    except _RefusedError:
        raise
    except Exception as error:  # noqa: BLE001 (a decoder fed hostile bytes may raise anything: it is the photo's fault)
        raise _RefusedError(seen, PhotoReason.UNDECODABLE, f"{type(error).__name__}: {error}") from None
    seen = Inspected(seen.sha256, seen.size, media, width, height)
    if not value.rstrip(b"\0" if media == JPEG else b"").endswith(_ENDS[media]):
        raise _RefusedError(seen, PhotoReason.TRAILING_BYTES, "bytes follow the image's end")
    return Inspected(seen.sha256, seen.size, media, width, height, thumbnail=thumbnail)


def _decoded(value: bytes, seen: Inspected, media: str) -> tuple[int, int, bytes]:
    """Open the image, judge its size and metadata, decode it whole: its width, height and thumbnail."""
    with _opened(value, seen, media) as image:
        width, height = image.size
        seen = Inspected(seen.sha256, seen.size, media, width, height)
        if width * height > MAX_PIXELS:
            detail = f"{width} x {height} pixels, more than {MAX_PIXELS:,}"
            raise _RefusedError(seen, PhotoReason.TOO_MANY_PIXELS, detail)
        if found := _identifying(image):
            raise _RefusedError(seen, PhotoReason.IDENTIFYING_METADATA, f"carries {', '.join(found)}")
        return width, height, _decoded_thumbnail(image)


def _opened(value: bytes, seen: Inspected, media: str) -> Image.Image:
    """The image's header read (its pixels are decoded later), or _RefusedError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # judged by MAX_PIXELS
            return Image.open(io.BytesIO(value), formats=[media.split("/")[1].upper()])
    except Image.DecompressionBombError as error:
        raise _RefusedError(seen, PhotoReason.TOO_MANY_PIXELS, str(error)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise _RefusedError(seen, PhotoReason.UNDECODABLE, f"{type(error).__name__}: {error}") from None


def _identifying(image: Image.Image) -> list[str]:
    """The identifying metadata an image carries: EXIF's GPS block and serial numbers, XMP's."""
    found = []
    exif = image.getexif()
    if _GPS_IFD in exif and exif.get_ifd(_GPS_IFD):
        found.append("GPS")
    tags = dict(exif) | dict(exif.get_ifd(_EXIF_IFD))
    found += [name for tag, name in _IDENTIFYING.items() if tags.get(tag) not in (None, b"", "")]
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    xmp_bytes = xmp.encode() if isinstance(xmp, str) else bytes(xmp)
    found += [f"XMP {name.decode()}" for name in _XMP_IDENTIFYING if name in xmp_bytes]
    return found


def _decoded_thumbnail(image: Image.Image) -> bytes:
    """Decode the whole image (a JPEG at the smallest scale that still fills the thumbnail: every block is read)
    and return its thumbnail, a JPEG."""
    if image.format == "JPEG":
        image.draft("RGB", THUMBNAIL_SIZE)
    image.load()
    small = image.convert("RGB") if image.mode not in ("RGB", "L") else image.copy()
    small.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=70)
    return out.getvalue()
