"""Carry out a plan's jobs on a pool of threads (or another executor's pool), yielding each outcome as it is ready.

Brotli, zlib, zopfli and zstd all release the GIL, so threads use every core without copying data
between processes. The largest files start first, so the pool does not end on one long job while
the other cores idle. Nothing here writes into the build folder: outcomes go back to the caller.

On another executor (a Dask cluster: executors/) the jobs go in batches of about BATCH_BYTES of input,
largest files first: a task per small file would cost more in scheduling (a few ms each) than in work.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from ..cache.store import Cache
from ..compress.codecs import Codec, keep
from ..executors.seam import TaskFailed, TaskPool, Where, read_planned
from ..model import Action, Encoded, Failure, Job

BATCH_BYTES = 1 << 20  # about a second of Brotli q11 work per task, against ~3 ms of a scheduler's per task


def execute(
    jobs: tuple[Job, ...],
    source_root: Path,
    codecs: dict[str, Codec],
    cache: Cache,
    min_ratio: float,
    workers: int,
    pool: TaskPool | None = None,
    made: frozenset[str] = frozenset(),
) -> Iterator[Encoded | Failure]:
    """Yield one Encoded (or a Failure) per job, as each is ready.

    Encoding goes to the pool, longest first, so no core idles at the end on one long job. The cache
    is read and written on this thread only, while the pool works. With `pool` (another executor's),
    the encodes go there in batches instead of to this machine's threads; `made`: the sources this build
    wrote (rewritten pages, minified files), sent with their tasks to workers that read a mirror of the folder.
    """
    if pool is not None:
        yield from _execute_batches(jobs, source_root, codecs, cache, min_ratio, pool, made)
        return
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


def _encode(job: Job, source_root: Where, codec: Codec, min_ratio: float) -> Encoded | Failure:
    original = _read_checked(job, source_root)
    return original if isinstance(original, Failure) else _compress(job, original, codec, min_ratio)


def _read_checked(job: Job, where: Where) -> bytes | Failure:
    """A job's source as planned (its sha256), or why not."""
    data = read_planned(where, job.source.rel, job.source.sha256)
    return Failure(job.source.rel, data) if isinstance(data, str) else data


def _compress(job: Job, original: bytes, codec: Codec, min_ratio: float) -> Encoded | Failure:
    try:
        data = codec.compress(original)
    except Exception as exc:  # a codec error on one file must not stop the build
        return Failure(job.source.rel, f"{job.codec} compression failed: {exc}")
    return Encoded(job, len(data), keep(job.source.size, len(data), min_ratio), data, Action.ENCODE)


def _execute_batches(jobs: tuple[Job, ...], source_root: Path, codecs: dict[str, Codec], cache: Cache,
                     min_ratio: float, pool: TaskPool, made: frozenset[str]) -> Iterator[Encoded | Failure]:
    """`execute` on another executor's pool: what is fresh or cached first, then the encodes in batches."""
    encode = [j for j in jobs if j.action is Action.ENCODE]
    for job in jobs:
        if job.action is Action.FRESH:
            yield Encoded(job, job.fresh_size, keep(job.source.size, job.fresh_size, min_ratio), None, Action.FRESH)
        elif job.action is Action.CACHED:
            data = cache.get(job.key)
            if data is None:  # gone or damaged since the plan: encode it after all
                encode.append(job)
                continue
            yield Encoded(job, len(data), keep(job.source.size, len(data), min_ratio), data, Action.CACHED)
    batches = _batches(sorted(encode, key=lambda j: (-j.source.size, j.output)))
    try:
        for index, batch in enumerate(batches):
            pool.submit(index, (batch, source_root, {j.codec: codecs[j.codec] for j in batch}, min_ratio,
                                made & {j.source.rel for j in batch}), 0.0)
        for index, outcome in pool.results():
            if isinstance(outcome, TaskFailed):
                for job in batches[index]:
                    yield Failure(job.source.rel, outcome.reason)
                continue
            for item in outcome:
                if isinstance(item, Encoded) and item.data is not None:
                    cache.put(item.job.key, item.data)
                yield item
    except BaseException:  # closed early, or Ctrl-C
        pool.close()
        raise
    finally:
        cache.flush()


def _batches(jobs: list[Job]) -> list[tuple[Job, ...]]:
    """Consecutive runs of jobs of about BATCH_BYTES of input each (a larger file alone)."""
    batches: list[tuple[Job, ...]] = []
    current: list[Job] = []
    size = 0
    for job in jobs:
        if current and size + job.source.size > BATCH_BYTES:
            batches.append(tuple(current))
            current, size = [], 0
        current.append(job)
        size += job.source.size
    if current:
        batches.append(tuple(current))
    return batches


def batch_inputs(task: tuple[tuple[Job, ...], Path, dict[str, Codec], float, frozenset[str]]
                 ) -> tuple[Path, tuple[str, ...], tuple[str, ...], tuple[tuple[Job, ...], dict[str, Codec], float]]:
    """A batch as another executor sends it: the folder, the files it reads and those of them this build
    wrote, and `encode_batch`'s argument."""
    batch, root, codecs, min_ratio, made = task
    return root, tuple(dict.fromkeys(j.source.rel for j in batch)), tuple(sorted(made)), (batch, codecs, min_ratio)


def encode_batch(task: tuple[tuple[Job, ...], dict[str, Codec], float], where: Where, cores: int
                 ) -> tuple[Encoded | Failure, ...]:
    """On a worker: every job of a batch, each source read (and checked against the plan) once."""
    batch, codecs, min_ratio = task
    read: dict[str, bytes | Failure] = {}
    outcomes: list[Encoded | Failure] = []
    for job in batch:
        if job.source.rel not in read:
            read[job.source.rel] = _read_checked(job, where)
        original = read[job.source.rel]
        outcomes.append(original if isinstance(original, Failure) else
                        _compress(job, original, codecs[job.codec], min_ratio))
    return tuple(outcomes)
