"""Plan a build: every output, its name, its cache key and the work it needs, before any work starts.

A pure function of the inventory, the config and what the cache holds. `--dry-run` prints the plan;
the runner only carries it out.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import mediatypes, naming
from ..cache import store as cache
from ..compress.codecs import Codec
from ..config import CompressConfig
from ..model import Action, Job, Notice, OwnedFile, Plan, SourceFile
from .ledger import copy_key


def wants_compression(source: SourceFile, config: CompressConfig) -> bool:
    """Whether precompression applies to a file: a text type, not empty, source maps only on request."""
    if not source.compressible or source.size == 0:
        return False
    return config.source_maps or not mediatypes.is_source_map(source.rel)


def make_plan(
    sources: tuple[SourceFile, ...],
    owned: tuple[OwnedFile, ...],
    codecs: tuple[Codec, ...],
    config: CompressConfig,
    in_cache: Callable[[str], bool],
    *,
    copy_sources: bool,
    other_outputs: frozenset[str] = frozenset(),
    transformed: Callable[[SourceFile], bool] = lambda source: False,
) -> Plan:
    """Every job of a build. `owned` are assetpipe's earlier outputs in the target folder;
    `copy_sources` is set for --out, where the sources are copied into the target too; `other_outputs`
    are the files other stages (images) make, which are therefore not stale."""
    owned_by_rel = {o.rel: o for o in owned}
    user_files = {s.rel for s in sources}
    jobs: list[Job] = []
    notices: list[Notice] = []
    for source in sources:
        if not wants_compression(source, config):
            continue
        for codec in codecs:
            output = naming.sidecar(source.rel, codec.name)
            # A name held by a user's file is still planned: the writer leaves that file alone
            # (and says so) unless it holds exactly the bytes this job makes.
            key = cache.key(source.sha256, codec.name, codec.settings)
            previous = owned_by_rel.get(output)
            if previous is not None and previous.key == key:
                # the scan's strings, equal to these: one copy of each name and key held through the build
                jobs.append(Job(source, codec.name, previous.rel, previous.key, Action.FRESH,
                                fresh_size=previous.size))
            elif in_cache(key):
                jobs.append(Job(source, codec.name, output, key, Action.CACHED))
            else:
                jobs.append(Job(source, codec.name, output, key, Action.ENCODE))
    copies: tuple[SourceFile, ...] = ()
    if copy_sources:
        copies = tuple(s for s in sources if not _copied(owned_by_rel.get(s.rel), s, transformed))
    made = {j.output for j in jobs} | other_outputs | (user_files if copy_sources else set())
    stale = tuple(o for o in owned if o.rel not in made)
    return Plan(sources, tuple(jobs), copies, stale, tuple(notices))


def _copied(previous: OwnedFile | None, source: SourceFile, transformed: Callable[[SourceFile], bool]) -> bool:
    """--out: the copy is still good: made from these very source bytes, and either still holding them
    or holding what a later stage that applies to it made of them (those stages run again anyway)."""
    if previous is None or previous.key != copy_key(source.sha256):
        return False
    return previous.sha256 == source.sha256 or transformed(source)
