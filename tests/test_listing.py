"""The delta's record of a folder's listings (build/listing.py): a listing is settled as it is read, and the
bytes are those of packing the entries as read and then zeroing the racy ones' times."""

from __future__ import annotations

import os
import time
from pathlib import Path

from assetpipe.build import listing


def _zeroed(blob: bytes, before_ns: int, trusted: frozenset[str]) -> dict[str, tuple[int, ...]]:
    """The racy rule applied to a listing read as it is: every file entry whose mtime or ctime is not
    older than `before_ns` gets times 0, but for the `trusted` names; folders as they are."""
    out = {}
    for name, (mode, size, mtime, ctime, ino, dev) in listing.entries(blob).items():
        if mode != listing.DIR and max(mtime, ctime) >= before_ns and name not in trusted:
            mtime = ctime = 0
        out[name] = (mode, size, mtime, ctime, ino, dev)
    return out


def test_a_listing_is_settled_as_it_is_read(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "assets").mkdir(parents=True)
    (root / ".assetpipe").mkdir()
    old = root / "assets" / "old.js"
    old.write_text("old")
    os.utime(old, ns=(1_000_000_000, 1_000_000_000))  # its mtime long ago; its ctime is now
    (root / "index.html").write_text("<p>old</p>")
    time.sleep(0.05)
    before_ns = time.time_ns()
    time.sleep(0.05)
    (root / "assets" / "new.js").write_text("new")
    (root / ".assetpipe" / "manifest.json").write_text("{}")
    (root / ".assetpipe" / "other.json").write_text("{}")
    (root / "assets" / "manifest.json").write_text("{}")  # trusted only in its own folder
    settling = listing.Settling(before_ns, {".assetpipe": frozenset({"manifest.json"})})

    raw = dict(listing.walk(root))
    settled = dict(listing.walk(root, settling))
    assert raw.keys() == settled.keys() == {"", "assets", ".assetpipe"}
    for rel, blob in raw.items():
        expected = _zeroed(blob, before_ns, settling.trusted.get(rel, frozenset()))
        assert listing.entries(settled[rel]) == expected
        assert listing.listing_of(root, rel, settling) == settled[rel]
    zeroed = {f"{rel}/{name}".lstrip("/") for rel, blob in settled.items()
              for name, stamp in listing.entries(blob).items() if stamp[0] != listing.DIR and stamp[2:4] == (0, 0)}
    assert zeroed == {"assets/new.js", "assets/manifest.json", ".assetpipe/other.json"}
    assert listing.entries(settled[""])["assets"][0] == listing.DIR  # a folder: only its name counts
    assert listing.walk(root).__next__() == ("", raw[""])  # no settling: the stamps as they are


def test_the_files_a_writer_left_as_they_were_are_not_racy(tmp_path: Path) -> None:
    """writer.Stamps: a file written, and both names of a file linked to a second one (the link moves the
    first name's ctime), are trusted as the writer left them; a file changed after (in place, as many
    bytes), one the writer removed and a file of someone else's made with the number it freed, and a file
    the writer never wrote are racy."""
    from assetpipe.build.writer import Stamps, Writer

    root = tmp_path / "site"
    root.mkdir()
    before_ns = time.time_ns() - 1
    (root / "user.js").write_text("the user's")
    writer = Writer(root, {})
    writer.write("a.js.br", b"aaaa", "k1")
    writer.write("b.js.br", b"bbbb", "k2")
    writer.write("gone.js.br", b"gone", "k3")
    time.sleep(0.05)  # past the file system's clock tick: the link and the edit below move the ctime
    writer.link("c.js.br", "a.js.br", "k1")
    writer.remove("gone.js.br")
    (root / "taken.js").write_text("gone")  # may get the number gone.js.br freed
    with (root / "b.js.br").open("r+b") as handle:
        handle.write(b"BBBB")
    writer.close()
    assert writer.records.keys() == {"a.js.br", "b.js.br", "c.js.br"}

    blob = listing.listing_of(root, "", listing.Settling(before_ns, own=Stamps.of(writer.take_puts())))
    racy = {name for name, stamp in listing.entries(blob).items() if stamp[0] != listing.DIR and stamp[2:4] == (0, 0)}
    assert racy == {"b.js.br", "taken.js", "user.js"}
    assert os.stat(root / "a.js.br").st_nlink == 2
