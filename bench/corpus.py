"""The benchmark corpus's photos, for the bench scripts: where they are (`$ASSETPIPE_CORPUS/photos`,
built by ../shared/bench), which files of a folder are photos, and the arguments every photo script takes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

PHOTOS = Path(os.environ.get("ASSETPIPE_CORPUS", "/tmp/assetpipe-corpus")) / "photos"
SUFFIXES = (".jpg", ".jpeg", ".png")


def photos_in(folder: Path) -> list[Path]:
    """The JPEG and PNG files in `folder`, by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def add_photo_arguments(ap: argparse.ArgumentParser) -> None:
    """An optional PHOTOS_DIR (default: the corpus's photos) and --jobs (default: every core)."""
    ap.add_argument("photos", type=Path, nargs="?", default=PHOTOS)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
