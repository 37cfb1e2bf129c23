"""`rekap photos run`: the photo consumer. SIGTERM or SIGINT stops it once the batch in hand is indexed."""

from __future__ import annotations

import argparse
import os

from rekap.cli.common import KAFKA, SubParsers, add_command
from rekap.config import Settings

RUN = """DATABASE_URL=postgresql://tabulator:...@db.example/rekap REKAP_KAFKA_BOOTSTRAP=kafka.example:9092 \\
REKAP_KAFKA_USERNAME=tabulator REKAP_KAFKA_PASSWORD=... REKAP_PHOTO_DIR=/srv/rekap/photos rekap photos run"""


def run(settings: Settings, _: argparse.Namespace) -> int:
    # Photos never slow the count: where the photo consumer shares cores with a tabulator (or PostgreSQL), the
    # scheduler gives them the CPU first, and the photos catch up when the count is idle. First, before the
    # service's libraries are imported (a second of CPU, when a tabulator may be starting too).
    os.nice(settings.photo_nice)
    from rekap.bootstrap import photo_service  # noqa: PLC0415 (after the nice: see above)
    from rekap.cli.tabulator import run_service, serve  # noqa: PLC0415

    run_service(serve(settings, photo_service))
    return 0


def register(commands: SubParsers) -> None:
    photos = commands.add_parser("photos", help="the photo consumer: the forms' photos, stored once by digest")
    actions = photos.add_subparsers(title="photos commands", required=True, metavar="ACTION")
    add_command(
        actions,
        "run",
        run,
        "consume the photo topic: check each photo, keep it by digest, index it; until SIGTERM or Ctrl-C",
        reads=(
            "database_url",
            *KAFKA,
            "photo_topic",
            "photo_group_id",
            "photo_dir",
            "photo_metrics_address",
            "photo_nice",
            "shutdown_timeout_s",
        ),
        example=RUN,
    )
