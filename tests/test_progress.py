"""Progress on stderr (issue 24, item 7): a CI log (no terminal) is never silent for long while a stage
runs, and never floods; a quick stage prints nothing but the summary."""

from __future__ import annotations

import io
import re
import time

from assetpipe.report import _PLAIN_EVERY, _SHOW_AFTER, TerminalObserver


def test_a_slow_stage_shows_without_a_terminal_then_a_line_every_few_seconds() -> None:
    """Five images at several seconds each: the stage is named once it has run _SHOW_AFTER seconds
    (not after its first image ends), then a progress line at most every _PLAIN_EVERY seconds."""
    stream = io.StringIO()
    observer = TerminalObserver(stream)
    observer.start(5, "encoding images")
    time.sleep(_SHOW_AFTER + 0.8)
    assert stream.getvalue() == "encoding images 0/5\n"  # shown while the first image still encodes
    observer.advance("a.jpg", "encode")
    time.sleep(_PLAIN_EVERY + 0.2)
    observer.advance("b.jpg", "encode")
    observer.done()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "encoding images 0/5"
    assert len(lines) == 2 and re.fullmatch(r"encoding images [12]/5 \(\d+ s\)", lines[1]), lines


def test_a_quick_stage_prints_nothing_and_a_big_one_says_so_at_once() -> None:
    stream = io.StringIO()
    observer = TerminalObserver(stream)
    observer.start(5, "encoding images")
    for name in "abcde":
        observer.advance(name, "encode")
    observer.done()
    assert stream.getvalue() == ""
    observer.start(400, "compressing")
    for n in range(400):
        observer.advance(f"f{n}.js.br", "encode")
    observer.done()
    assert stream.getvalue() == "compressing 0/400\n"  # and no flood of lines after it


def test_quiet_shows_no_progress() -> None:
    stream = io.StringIO()
    observer = TerminalObserver(stream, quiet=True)
    observer.start(500, "compressing")
    time.sleep(_SHOW_AFTER + 0.6)
    observer.done()
    assert stream.getvalue() == ""
