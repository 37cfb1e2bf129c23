"""Running `rekap` as a user does: a separate process, its own environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def rekap(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rekap", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )
