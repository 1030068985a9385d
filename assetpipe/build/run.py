"""Carry out a plan's jobs on a pool of threads, yielding each outcome as it is ready.

Brotli, zlib, zopfli and zstd all release the GIL, so threads use every core without copying data
between processes. The largest files start first, so the pool does not end on one long job while
the other cores idle. Nothing here writes into the build folder: outcomes go back to the caller.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from ..cache.store import Cache
from ..compress.codecs import Codec, keep
from ..model import Action, Encoded, Failure, Job


class SourceChanged(Exception):
    pass


def execute(
    jobs: tuple[Job, ...],
    source_root: Path,
    codecs: dict[str, Codec],
    cache: Cache,
    min_ratio: float,
    workers: int,
) -> Iterator[Encoded | Failure]:
    """Yield one Encoded (or a Failure) per job, as each is ready.

    Encoding goes to the pool, longest first, so no core idles at the end on one long job. The cache
    is read and written on this thread only, while the pool works.
    """
    encode = sorted((j for j in jobs if j.action is Action.ENCODE), key=lambda j: (-j.source.size, j.output))
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="assetpipe")
    backlog: deque[Job] = deque(encode)
    running: set[Future[Encoded | Failure]] = set()

    def top_up() -> None:
        # A bounded window of submitted jobs, so finished bytes are written before more pile up.
        while backlog and len(running) < workers * 4:
            job = backlog.popleft()
            running.add(pool.submit(_encode, job, source_root, codecs[job.codec], min_ratio))

    try:
        top_up()
        for job in jobs:
            if job.action is Action.FRESH:
                yield Encoded(job, job.fresh_size, keep(job.source.size, job.fresh_size, min_ratio), None,
                              Action.FRESH)
            elif job.action is Action.CACHED:
                data = cache.get(job.key)
                if data is None:  # gone or damaged since the plan: encode it after all
                    backlog.appendleft(job)
                    top_up()
                    continue
                yield Encoded(job, len(data), keep(job.source.size, len(data), min_ratio), data, Action.CACHED)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                top_up()
                outcome = future.result()
                if isinstance(outcome, Encoded) and outcome.data is not None:
                    cache.put(outcome.job.key, outcome.data)
                yield outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        cache.flush()


def _encode(job: Job, source_root: Path, codec: Codec, min_ratio: float) -> Encoded | Failure:
    try:
        original = _read_verified(source_root / job.source.rel, job.source.sha256)
    except FileNotFoundError:
        return Failure(job.source.rel, "vanished during the build")
    except SourceChanged:
        return Failure(job.source.rel, "changed during the build; run the build again")
    except OSError as exc:
        return Failure(job.source.rel, f"cannot read: {exc.strerror or exc}")
    try:
        data = codec.compress(original)
    except Exception as exc:  # a codec error on one file must not stop the build
        return Failure(job.source.rel, f"{job.codec} compression failed: {exc}")
    return Encoded(job, len(data), keep(job.source.size, len(data), min_ratio), data, Action.ENCODE)


def _read_verified(path: Path, sha256: str) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SourceChanged(str(path))
    return data
