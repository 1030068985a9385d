"""The executor a build runs its encodes on (SPEC §5b): this machine's pools, or a Dask cluster's.

The plan does not change with the executor, nor does anything the build writes: only where the image
encodes and the precompression batches run. With `local` this gives nothing and the stages use their
own pools (images/encodepool.py, build/run.py's threads). With a Dask executor it connects to (or
starts) the cluster before anything is read or written, checks that every worker has this machine's
encoder versions (`versions`, which every cache key includes), and gives the two stages a TaskPool
each on it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from .. import __version__
from ..cache.store import library_version
from ..executors.seam import LOCAL, TaskPool, parse_executor
from ..images import stage as imagestage
from ..model import UsageError
from . import run
from .request import BuildRequest


@dataclass(frozen=True)
class Pools:
    images: TaskPool
    compress: TaskPool


def versions() -> dict[str, str]:
    """What makes an encoder's bytes, as cache keys name it; run on every worker, compared with ours."""
    from PIL import Image, features

    return {"assetpipe": __version__, "pillow": Image.__version__, "libavif": str(features.version("avif")),
            "libwebp": str(features.version("webp")), "pyoxipng": library_version("pyoxipng"),
            "brotli": library_version("brotli"), "zstandard": library_version("zstandard"),
            "zopfli": library_version("zopfli"), "zlib": zlib.ZLIB_RUNTIME_VERSION}


@contextmanager
def running(request: BuildRequest) -> Iterator[BuildRequest]:
    """The request with its executor's pools in it, for the length of the build (a --dry-run, which
    encodes nothing, connects to nothing)."""
    try:
        spec = parse_executor(request.executor)
    except ValueError as exc:
        raise UsageError(f"--executor: {exc}") from None
    if spec.kind == LOCAL or request.dry_run:
        yield request
        return
    from ..executors import cluster

    with cluster.session(spec, versions, source=request.source, workers_dir=request.workers_dir,
                         megapixels=imagestage.IN_FLIGHT_MEGAPIXELS, cores=request.jobs) as dask:
        yield replace(request, encoders=dask.pool(imagestage.encode_on_worker, imagestage.worker_inputs,
                                                  request.config.images.timeout),
                      compressors=dask.pool(run.encode_batch, run.batch_inputs))
