"""The opt-in `images.optimize_originals` step of the image stage: which originals to replace, and with what.

An original replaced in place is still the user's file, but no longer the bytes its variants were made
from. The ledger records it (section `optimized`: the original's sha256 and size, the optimised file's),
so a later build knows it while its bytes still hash to what was written, and the image stage sees it
as its original: same cache keys, same variant names, nothing optimised twice. Variants are always made
from the original's pixels: the original's bytes go into the cache before it is replaced, and a later
build that must decode it again (a new width, a new quality) decodes those; when the cache no longer
holds them that image fails with a clear line rather than a variant of the optimised copy.

Each decision (the optimised bytes, or "keep the original") is cached by content, so a wiped `dist/`
with the same original gets its optimised copy back without running an optimiser. Nothing here writes
into the build folder: the pipeline hands the result to the writer.

The optimisers are pure: an original's bytes in, a smaller file in its own format out. Candidates, each
measured in bench/originals.py (figures in docs/libraries.md):
- PNG: oxipng (pyoxipng), lossless: the same pixels, colour chunks (iCCP, sRGB, gAMA, cHRM, cICP) kept,
  text and EXIF chunks dropped. A PNG whose EXIF orientation is not 1 is left alone (dropping eXIf would
  turn it; keeping it would keep its GPS).
- JPEG: mozjpeg's lossless re-optimisation (mozjpeg-lossless-optimization: the same DCT coefficients,
  so the same pixels; progressive, optimised Huffman tables), keeping the ICC profile and no other marker;
  an orientation other than 1 is carried over in a fresh EXIF block that holds nothing else; and the
  image at the configured JPEG quality, which is the full-width fallback variant the image stage made
  from the one decode of the original (orientation applied, ICC kept, CMYK converted to sRGB). The
  smaller of the two wins, and only when it is smaller than the original.
- GIF, WebP, AVIF: left as they are (Pillow's GIF encoder rarely beats a GIF tool's output and drops
  per-frame palettes; WebP and AVIF originals are already a modern codec's output, and re-encoding them
  lossily loses a generation for a few per cent).
"""

from __future__ import annotations

import hashlib
import io
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from ..cache import store as cache_keys
from ..cache.store import Cache, library_version
from ..executors.seam import TaskPool
from ..model import Action, Failure, Kind, Minified, Notice, SourceFile
from .renditions import ImageInfo, ImageSettings
from .stage import ImageJob, ImagePlan, ImageResult, run_images

# --- the optimisers (pure) ----------------------------------------------------------------------

_ORIENTATION = 0x0112
_TEXT_CHUNKS = (b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME")  # metadata, never colour
OXIPNG_LEVEL = 2  # oxipng's default; level 4 took 3.6x as long to save 0.6 % more (bench/originals.py)


class OptimiseError(Exception):
    """An optimiser failed on this image; the message is the one-line reason (the original stays)."""


@dataclass(frozen=True)
class Optimised:
    data: bytes
    method: str  # "oxipng", "mozjpeg-lossless", "jpeg-q80"


def handles(info: ImageInfo) -> bool:
    """Whether this image's format has an optimiser (JPEG and still PNG)."""
    return info.format == "jpeg" or (info.format == "png" and not info.animated)


def recipe(info: ImageInfo, lossy_recipe: str) -> str:
    """Everything that changes the result, for the cache key: the tools' versions and the JPEG settings
    (`lossy_recipe`: the full-width fallback's encoder settings, empty when there is no such candidate)."""
    if info.format == "png":
        return f"pyoxipng {library_version('pyoxipng')} o{OXIPNG_LEVEL} strip {b','.join(_TEXT_CHUNKS).decode()}"
    return f"mozjpeg-lossless-optimization {library_version('mozjpeg-lossless-optimization')} icc; {lossy_recipe}"


def optimise(original: bytes, info: ImageInfo, orientation: int, lossy: bytes | None,
             lossy_method: str = "") -> Optimised | None:
    """The smallest candidate, when it is smaller than `original`; None keeps the original.

    `orientation` is the original's EXIF orientation; `lossy` the image re-encoded at the configured
    quality from the original's pixels (JPEG only; None when the fallback is of another format)."""
    candidates: list[Optimised] = []
    if info.format == "png" and not info.animated and orientation == 1:
        candidates.append(Optimised(_oxipng(original), "oxipng"))
    elif info.format == "jpeg":
        candidates.append(Optimised(_mozjpeg_lossless(original, orientation), "mozjpeg-lossless"))
        if lossy is not None:
            candidates.append(Optimised(lossy, lossy_method))
    # smallest first; on a tie the lossless one (listed first) wins
    best = min(candidates, key=lambda c: len(c.data), default=None)
    if best is None or len(best.data) >= len(original):
        return None
    return best


def orientation_of(original: bytes) -> int:
    """The EXIF orientation of an image (1 when it has none)."""
    try:
        return int(Image.open(io.BytesIO(original)).getexif().get(_ORIENTATION, 1))
    except (OSError, ValueError, SyntaxError):
        return 1


def missing_packages() -> tuple[str, ...]:
    """The optimisers that are not installed (they come with `pip install 'assetpipe[originals]'`)."""
    return tuple(p for p in ("pyoxipng", "mozjpeg-lossless-optimization") if library_version(p) == "missing")


def _oxipng(data: bytes) -> bytes:
    try:
        import oxipng
    except ImportError as exc:
        raise OptimiseError(_missing("pyoxipng")) from exc
    try:
        return oxipng.optimize_from_memory(data, level=OXIPNG_LEVEL, strip=oxipng.StripChunks.strip(_TEXT_CHUNKS))
    except oxipng.PngError as exc:
        raise OptimiseError(f"oxipng: {str(exc).splitlines()[0] if str(exc) else 'failed'}") from None


def _mozjpeg_lossless(data: bytes, orientation: int) -> bytes:
    try:
        import mozjpeg_lossless_optimization as mozjpeg
    except ImportError as exc:
        raise OptimiseError(_missing("mozjpeg-lossless-optimization")) from exc
    try:
        out = mozjpeg.optimize(data, mozjpeg.COPY_MARKERS.ICC)
    except ValueError as exc:
        raise OptimiseError(f"mozjpeg: {exc}") from None
    return out if orientation == 1 else _with_orientation(out, orientation)


def _with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """`jpeg` with an EXIF block that holds its orientation and nothing else, right after SOI (and APP0)."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    payload = b"Exif\x00\x00" + exif.tobytes()
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    at = 2
    if jpeg[2:4] == b"\xff\xe0":  # keep JFIF's APP0 first, as the JFIF spec asks
        at = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + segment + jpeg[at:]



def _missing(package: str) -> str:
    return f"images.optimize_originals needs the {package} package: pip install 'assetpipe[originals]'"


# --- the step of the image stage ---------------------------------------------------------------


_OPTIMISED, _KEEP = b"O", b"K"  # a decision's cache entry: b"O" + method + b"\n" + bytes, or b"K"
_ORIGINAL_BYTES = "image:original-bytes"
_GONE = "its original is no longer in the cache, so it cannot be optimised anew; left as it is"


@dataclass(frozen=True)
class Settled:
    """What becomes of one image original."""

    rel: str
    record: Minified | None  # the file is (or becomes) the optimised form of this original; None: the original
    data: bytes | None  # bytes to put at `rel` (None: nothing to write)
    work: Action | None  # FRESH (already in place), CACHED, ENCODE (an optimiser ran); None: not optimised
    original: bytes | None = None  # the original's bytes, to keep in the cache before it is replaced
    notice: Notice | None = None


def recognise(sources: tuple[SourceFile, ...], known: dict[str, Minified]
              ) -> tuple[tuple[SourceFile, ...], dict[str, Minified]]:
    """The sources as the image stage must see them: a file an earlier build optimised in place (the
    ledger's record still matches its bytes) carries its original's sha256, so every key and variant
    name stays what it was; its size stays the file's own (sidecars must beat what is served)."""
    found: dict[str, Minified] = {}
    seen: list[SourceFile] = []
    for source in sources:
        record = known.get(source.rel)
        if source.kind is Kind.IMAGE and record is not None and (record.sha256, record.size) == (
                source.sha256, source.size):
            found[source.rel] = record
            seen.append(replace(source, sha256=record.original_sha256))
        else:
            seen.append(source)
    return tuple(seen), found


def original_reader(root: Path, recognised: dict[str, Minified], store: Cache) -> Callable[[str], bytes]:
    """Read an image's original bytes: from the cache for one optimised in place, else from the folder."""
    def read(rel: str) -> bytes:
        record = recognised.get(rel)
        if record is not None:
            kept = store.get(original_key(record.original_sha256))
            if kept is not None:
                return kept
        return (root / rel).read_bytes()

    return read


def original_key(original_sha256: str) -> str:
    return cache_keys.key(original_sha256, _ORIGINAL_BYTES, "")


def run(plan: ImagePlan, root: Path, store: Cache, settings: ImageSettings, pool: TaskPool,
        recognised: dict[str, Minified]) -> Iterator[ImageResult | Failure]:
    """`stage.run_images`, except that an image optimised in place by an earlier build is decoded
    from its original's bytes (kept in the cache and, for the workers to read, put in a scratch folder
    inside the cache folder), never from the optimised copy. Closing the iterator stops the encodes."""
    again = [job for job in plan.jobs if job.source.rel in recognised and job.needs_decode]
    if not again:
        yield from run_images(plan, root, store, settings, pool)
        return
    again_rels = {job.source.rel for job in again}
    rest = ImagePlan(tuple(job for job in plan.jobs if job.source.rel not in again_rels), plan.failures, plan.notices)
    yield from run_images(rest, root, store, settings, pool)
    store.path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="originals-", dir=store.path.parent) as scratch:
        ready = []
        for job in again:
            kept = store.get(original_key(job.source.sha256))
            if kept is None:
                yield Failure(job.source.rel, "optimised in place by an earlier build and its original is no "
                                              "longer in the cache; restore the original (rebuild the site)")
                continue
            path = Path(scratch, *job.source.rel.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(kept)
            ready.append(job)
        if ready:
            yield from run_images(ImagePlan(tuple(ready), (), ()), Path(scratch), store, settings, pool)


def settle(result: ImageResult, root: Path, target: Path, store: Cache, settings: ImageSettings,
           enabled: bool, known: Minified | None) -> Settled:
    """Decide one image original: leave it, keep the optimised copy already in place, or (re)place it."""
    job = result.job
    rel, info = job.source.rel, job.info
    lossy = next((p for p in result.produced if not p.rendition.sidecar and p.rendition.format == info.format
                  and p.rendition.width == info.width), None) if _has_lossy(job) else None
    if known is not None and not enabled:
        return Settled(rel, known, None, Action.FRESH)
    if not enabled or not handles(info):
        return Settled(rel, None, None, None)
    key = _key(job, settings)  # only now: it reads the optimisers' versions
    if known is not None and known.key == key:
        return Settled(rel, known, None, Action.FRESH)
    entry, work = store.get(key), Action.CACHED
    original: bytes | None = None  # read only when needed: a warm build reads no original
    if entry is None or entry[:1] not in (_OPTIMISED, _KEEP):
        original = _original(root, rel, job.source.sha256, known, store)
        if original is None:
            return _left(rel, known, _GONE if known is not None else "changed during the build; left as it is")
        try:
            lossy_bytes = None if lossy is None else lossy.data or (target / lossy.rendition.file).read_bytes()
            found = optimise(original, info, orientation_of(original), lossy_bytes,
                                       f"jpeg-q{settings.quality['jpeg']}")
        except (OptimiseError, OSError) as exc:
            return _left(rel, known, f"not optimised, left as it is: {exc}")
        entry = _KEEP if found is None else _OPTIMISED + found.method.encode() + b"\n" + found.data
        store.put(key, entry)
        work = Action.ENCODE
    original_size = known.original_size if known is not None else job.source.size
    if entry[:1] == _KEEP:
        if known is None:
            return Settled(rel, None, None, work)
        original = original or _original(root, rel, job.source.sha256, known, store)
        if original is None:
            return _left(rel, known, _GONE)
        return Settled(rel, None, original, work)  # no longer worth it (new settings): the original again
    data = entry.split(b"\n", 1)[1]
    if known is None and original is None:  # it goes into the cache before the file is replaced
        original = _original(root, rel, job.source.sha256, known, store)
    record = Minified(rel, original_size, job.source.sha256, len(data), hashlib.sha256(data).hexdigest(), key)
    return Settled(rel, record, data, work, original if known is None else None)


def planned(job: ImageJob, settings: ImageSettings, enabled: bool, known: Minified | None,
            in_cache: Callable[[str], bool]) -> Action | None:
    """What settling this image original will take (for --dry-run); None: nothing."""
    if known is not None and (not enabled or known.key == _key(job, settings)):
        return Action.FRESH
    if not enabled or not handles(job.info):
        return None
    return Action.CACHED if in_cache(_key(job, settings)) else Action.ENCODE


def _has_lossy(job: ImageJob) -> bool:
    """A JPEG whose fallback is JPEG: its full-width fallback is the original at the configured quality."""
    return job.info.format == "jpeg" and job.fallback == "jpeg"


def _key(job: ImageJob, settings: ImageSettings) -> str:
    lossy_recipe = settings.encoder_settings("jpeg") if _has_lossy(job) else ""
    return cache_keys.key(job.source.sha256, "image:original", recipe(job.info, lossy_recipe))


def _left(rel: str, known: Minified | None, reason: str) -> Settled:
    return Settled(rel, known, None, None, None, Notice(rel, reason))


def _original(root: Path, rel: str, sha256: str, known: Minified | None, store: Cache) -> bytes | None:
    if known is not None:
        return store.get(original_key(sha256))
    try:
        data = (root / rel).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None
