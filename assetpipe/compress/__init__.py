"""Precompression: takes a file's bytes, returns its sidecars' bytes (`.br`, `.gz`, `.zst`).

`codecs`: the compressors (bytes in, bytes out, deterministic, releasing the GIL) with the settings that
go into their cache keys, and the rule that keeps a sidecar only when it is at most `compress.min_ratio`
of the original. Which files get which sidecars is decided by build/plan; build/run runs them on a pool.
"""
