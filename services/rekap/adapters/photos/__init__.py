"""Where the photos of the forms are kept: a folder laid out by digest (the default), or an S3-compatible object
store (REKAP_PHOTO_S3_URL)."""

from __future__ import annotations

from rekap.adapters.photos.folder import FolderStore
from rekap.app.photos import PhotoStore
from rekap.config import Settings


def photo_store(settings: Settings) -> PhotoStore:
    """The store the settings name: the object store of REKAP_PHOTO_S3_URL, else the folder REKAP_PHOTO_DIR."""
    if settings.photo_s3_url is None:
        return FolderStore(settings.photo_folder)
    from rekap.adapters.photos.s3 import S3Location, S3Store  # noqa: PLC0415 (boto3 only where it is used)

    secret = settings.photo_s3_secret_key.get_secret_value() if settings.photo_s3_secret_key else None
    where = S3Location(
        settings.photo_s3_url,
        settings.photo_s3_endpoint,
        settings.photo_s3_access_key,
        secret,
        settings.photo_s3_region,
    )
    return S3Store(where)
