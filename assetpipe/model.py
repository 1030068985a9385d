"""The nouns that flow between the pipeline's stages.

Every value that crosses a module boundary is one of these frozen types, so a stage can only
hand data on, never change what an earlier stage decided.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol


class AssetpipeError(Exception):
    """Base class of the errors the CLI turns into one line and an exit code."""


class ConfigError(AssetpipeError):
    """The configuration is invalid; every problem is listed, nothing is written (exit 2)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class UsageError(AssetpipeError):
    """A command was called with arguments that cannot work (exit 2)."""


class WriteStopped(AssetpipeError):
    """The build stopped writing part-way (the disk is full, or its own state cannot be written): every
    file in place is whole, the journal knows what was written, and a later build finishes the job
    (exit 1: files were not written)."""


class Kind(Enum):
    """What a file is, decided by its content where the content says, else by its name."""

    IMAGE = "image"
    COMPRESSED = "compressed"
    TEXT = "text"
    OTHER = "other"


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class SourceFile:
    """One file of the build folder that assetpipe did not write."""

    rel: str  # POSIX path relative to the build folder
    size: int
    sha256: str  # hex
    sha384: str  # base64, for Subresource Integrity
    media_type: str
    kind: Kind
    compressible: bool


@dataclass(frozen=True)
class Notice:
    """A warning about one file: reported, never fatal, never changes the exit code."""

    file: str
    message: str


@dataclass(frozen=True)
class Failure:
    """A file that could not be processed: reported, and the exit code becomes 1."""

    file: str
    reason: str


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class OwnedFile:
    """A file assetpipe wrote on an earlier run and that is still exactly as written."""

    rel: str
    size: int
    sha256: str
    key: str  # the cache key it was made from; "" for copies made by --out


@dataclass(frozen=True)
class Inventory:
    """The build folder, walked once: user files and assetpipe's own earlier outputs, apart."""

    root: Path
    sources: tuple[SourceFile, ...]
    owned: tuple[OwnedFile, ...]
    failures: tuple[Failure, ...] = ()
    notices: tuple[Notice, ...] = ()
    leftovers: tuple[str, ...] = ()  # temp files an interrupted build left behind


class Action(Enum):
    """What a planned output needs: nothing (already on disk), a cache read, or real work."""

    FRESH = "fresh"
    CACHED = "cached"
    ENCODE = "encode"


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class Job:
    """One planned output: a precompressed sidecar of one source file."""

    source: SourceFile
    codec: str  # "br", "gzip", "zstd"
    output: str  # POSIX path relative to the target folder
    key: str  # cache key: source hash + settings + library version
    action: Action
    fresh_size: int = 0  # for FRESH jobs: the size of the file already on disk


@dataclass(frozen=True)
class Plan:
    """Everything a build will do, decided before any work starts."""

    sources: tuple[SourceFile, ...]
    jobs: tuple[Job, ...]
    copies: tuple[SourceFile, ...]  # --out: sources to copy into the target
    stale: tuple[OwnedFile, ...]  # earlier outputs this build no longer makes
    notices: tuple[Notice, ...] = ()
    minify: tuple[MinifyJob, ...] = ()  # the minify stage's files (opt-in [minify])
    images: tuple[tuple[str, Action], ...] = ()  # the image stage's outputs and what each needs
    # the image stage's units of work as the build counts them (one per encode, images/stage.work)
    image_work: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class Encoded:
    """The outcome of one job: the bytes to write (None when already on disk) and whether to keep them."""

    job: Job
    size: int
    keep: bool
    data: bytes | None = None
    work: Action = Action.ENCODE  # what producing it took: nothing, a cache read, or encoding


@dataclass(frozen=True, slots=True)  # one per file: no __dict__ each
class Encoding:
    """A kept sidecar as the manifest lists it."""

    file: str
    size: int


@dataclass(frozen=True)
class MinifyJob:
    """One user file the minify stage looks at: minify it, take the result from the cache, or nothing."""

    source: SourceFile  # the original, as scanned
    kind: str  # "html", "css", "js", "svg", "json"
    key: str  # cache key: original sha256 + minifier + version + settings
    action: Action  # FRESH (already minified by an earlier build), CACHED, or ENCODE (minify now)


@dataclass(frozen=True)
class Minified:
    """A user file that is the minified form of an original assetpipe minified (SPEC §2: opt-in [minify])."""

    rel: str
    original_size: int
    original_sha256: str
    size: int
    sha256: str
    key: str


@dataclass(frozen=True)
class BuildStats:
    """Counts for the summary line and the JSON result."""

    files: int = 0
    encoded: int = 0
    cache_hits: int = 0
    up_to_date: int = 0
    written: int = 0
    removed: int = 0
    kept: dict[str, int] = field(default_factory=dict)  # codec -> sidecars kept
    raw_bytes: int = 0  # every file's bytes, as stored (diff.ignore left out: build/wire.py)
    wire_bytes: int = 0  # the same files over the wire: what a current browser downloads (build/wire.py)
    seconds: float = 0.0
    minified: int = 0  # files that are minified forms of their originals after this build
    minify_runs: int = 0  # files the minifier ran on in this build (none come from the cache or the ledger)
    minify_saved: int = 0  # original bytes minus minified bytes, over the minified files
    images: int = 0  # raster images processed
    variants: int = 0  # image files on disk after this build (variants and same-URL sidecars)
    optimized: int = 0  # image originals that are optimised copies after this build (opt-in)
    optimized_saved: int = 0  # their original bytes minus their bytes now


@dataclass(frozen=True)
class LcpSeen:
    """One page's LCP element at one viewport (`--measure-lcp`)."""

    profile: str  # "phone" | "desktop"
    element: str  # its tag ("IMG", "H1", ...); "" when the page painted none
    image: str | None  # the build-folder path of the image assetpipe rewrote that it is, else None
    nth: int  # which of the page's images showing `image` it is (document order)
    url: str  # the LCP entry's URL: an image's or a CSS background's, "" for text


@dataclass(frozen=True)
class LcpPage:
    """What `--measure-lcp` decided for one page."""

    page: str
    seen: tuple[LcpSeen, ...]  # phone, desktop; empty when the page could not be loaded
    measured: bool  # loaded in Chromium by this build (False: the cache knew)
    marked: tuple[str, ...]  # the images made eager + fetchpriority="high"; empty: the heuristic's choice kept
    why: str  # why the heuristic was kept ("the LCP element is text (H1)", ...); "" when marked


@dataclass(frozen=True)
class FileSums(Mapping[str, tuple[int, str]]):
    """rel -> (size, sha256 hex), each kept packed in 40 bytes: what a build left, for a watcher that compares
    its events with it for its whole life (a dict of (int, hex str) tuples took about 0.3 kB a file: 180 MB
    at 200,000 files with two sidecars each). `packed` is the packed form (FileSums.pack)."""

    packed: Mapping[str, bytes]

    @staticmethod
    def pack(size: int, sha256: str) -> bytes:
        return size.to_bytes(8, "little") + bytes.fromhex(sha256)

    @staticmethod
    def unpack(packed: bytes) -> tuple[int, str]:
        return int.from_bytes(packed[:8], "little"), packed[8:].hex()

    def __getitem__(self, rel: str) -> tuple[int, str]:
        return self.unpack(self.packed[rel])

    def __iter__(self) -> Iterator[str]:
        return iter(self.packed)

    def __len__(self) -> int:
        return len(self.packed)


@dataclass(frozen=True)
class BuildResult:
    """What one build did; the CLI turns it into output and an exit code."""

    target: Path
    plan: Plan
    failures: tuple[Failure, ...]
    notices: tuple[Notice, ...]
    stats: BuildStats
    dry_run: bool = False
    # What the folder holds after the build, rel -> (size, sha256): every source the manifest lists and
    # every output the ledger records. `assetpipe watch` compares changes with it. Only a full build asked
    # for it gives it (BuildRequest.reports_left); else None (and `outputs` empty).
    left: FileSums | None = None
    outputs: frozenset[str] = frozenset()  # which of `left` are assetpipe's outputs
    refusal: str | None = None  # --dry-run: why the real build would stop before writing (safety.py; exit 2)
    lcp: tuple[LcpPage, ...] = ()  # --measure-lcp: each page with images, what its loads found (build/lcp.py)
    # A full build that wrote, without a failure or a warning: the image work (one Action per unit, as
    # Plan.image_work counts it) the next build counts when nothing changes after this one (build/deltarun.py
    # records it); else None.
    idle_images: tuple[Action, ...] | None = None
    # How the build ran: "full"; "noop" (the recorded report given again, build/noop.py); "delta" (only the
    # changed files, build/delta.py); "full (delta: WHY)" when a delta was tried and could not apply.
    route: str = "full"

    @property
    def exit_code(self) -> int:
        if self.refusal is not None:
            return 2
        return 1 if self.failures else 0


class Observer(Protocol):
    """Where a build reports what it is doing; the report module implements it, tests may too."""

    def start(self, total: int, label: str) -> None: ...

    def advance(self, output: str, outcome: str) -> None: ...

    def failure(self, failure: Failure) -> None: ...

    def notice(self, notice: Notice) -> None: ...

    def done(self) -> None: ...
