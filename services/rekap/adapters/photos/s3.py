"""The photo store of a deployment: an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph...), through
boto3, the maintained client. Objects are named as the folder store names its files (app/photos.py), under a
prefix of a bucket; each is written whole (S3 has no half-written object) with its content type. boto3 is
synchronous: each call runs in a thread. Every error of the client leaves as a RekapError: an UnavailableError
when the store did not answer (the caller retries), a RekapError when it refused (credentials, bucket)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from rekap.errors import ConfigError, RekapError, UnavailableError

T = TypeVar("T")
CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}
MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Location:
    """Where: s3://BUCKET/PREFIX, at an endpoint (None: AWS's), with these credentials (None: boto3's own
    chain: the environment, ~/.aws, an instance role)."""

    url: str
    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"

    @property
    def bucket(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def prefix(self) -> str:
        path = urlsplit(self.url).path.strip("/")
        return f"{path}/" if path else ""


class S3Store:
    def __init__(self, where: S3Location) -> None:
        parts = urlsplit(where.url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"REKAP_PHOTO_S3_URL={where.url}: not s3://BUCKET or s3://BUCKET/PREFIX")
        import boto3  # noqa: PLC0415 (only a deployment with an object store loads it)
        from botocore.config import Config  # noqa: PLC0415

        self.where = where
        self._client = boto3.client(
            "s3",
            endpoint_url=where.endpoint,
            aws_access_key_id=where.access_key,
            aws_secret_access_key=where.secret_key,
            region_name=where.region,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )

    def _key(self, name: str) -> str:
        return self.where.prefix + name

    async def put(self, name: str, data: bytes) -> None:
        content_type = CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
        await self._call(
            f"keep photo {name}",
            lambda: self._client.put_object(
                Bucket=self.where.bucket, Key=self._key(name), Body=data, ContentType=content_type
            ),
        )

    async def get(self, name: str) -> bytes | None:
        def read() -> bytes | None:
            try:
                body = self._client.get_object(Bucket=self.where.bucket, Key=self._key(name))["Body"]
            except self._client.exceptions.ClientError as error:
                if _code(error) in MISSING:
                    return None
                raise
            data: bytes = body.read()
            return data

        return await self._call(f"read photo {name}", read)

    async def copy_to(self, name: str, target: Path) -> bool:
        def download() -> bool:
            try:
                head = self._client.head_object(Bucket=self.where.bucket, Key=self._key(name))
            except self._client.exceptions.ClientError as error:
                if _code(error) in MISSING:
                    return False
                raise
            if target.exists() and target.stat().st_size == head["ContentLength"]:
                return True
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            self._client.download_file(self.where.bucket, self._key(name), str(temporary))
            temporary.replace(target)
            return True

        return await self._call(f"copy photo {name}", download)

    def location(self, name: str) -> str:
        return f"s3://{self.where.bucket}/{self._key(name)}"

    async def create_bucket(self) -> None:
        """The bucket, if it does not exist (for a new deployment and the tests)."""

        def create() -> None:
            try:
                self._client.create_bucket(Bucket=self.where.bucket)
            except self._client.exceptions.ClientError as error:
                if _code(error) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

        await self._call(f"create bucket {self.where.bucket}", create)

    async def _call(self, what: str, call: Callable[[], T]) -> T:
        """The boundary: boto3's errors leave as RekapErrors."""
        from botocore.exceptions import (  # noqa: PLC0415
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        try:
            return await asyncio.to_thread(call)
        except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
            raise UnavailableError(f"the photo store {self.where.url} did not answer ({what}): {error}") from error
        except ClientError as error:
            raise RekapError(f"the photo store {self.where.url} refused to {what}: {_code(error)}") from error
        except (BotoCoreError, OSError) as error:
            raise RekapError(f"the photo store {self.where.url} could not {what}: {error}") from error


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
