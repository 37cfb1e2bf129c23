"""The Debian programs some tests drive (nginx, Chromium, Prometheus and its tools): found on PATH, or the
test skipped saying which package brings it. `.ci/run` installs every one."""

from __future__ import annotations

import shutil

import pytest


def debian_program(*names: str, package: str) -> str:
    """The path of the first of `names` installed (a program may go by Debian's name or upstream's)."""
    found = next((path for name in names if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip(f"{names[0]} comes with Debian's {package} package (apt-get install {package}; .ci/run does it)")
    return found
