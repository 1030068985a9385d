"""Image sources by name: which files are assetpipe's outputs whose ledger record was lost (never made
into variants again), and whether a source's extension says what its content is. Pure: names in.
"""

from __future__ import annotations

from .. import naming

_EXTENSIONS_OF = {"jpeg": ("jpg", "jpeg", "jpe", "jfif"), "png": ("png", "apng"), "gif": ("gif",),
                  "webp": ("webp",), "avif": ("avif",)}


def looks_like_an_output(rel: str, user_files: set[str]) -> bool:
    if naming.VARIANT.match(rel):  # an output whose ledger record was lost: no variants of variants
        return True
    base, _, ext = rel.rpartition(".")
    return ext in ("avif", "webp") and base in user_files and base.rpartition(".")[2].lower() in {
        e for exts in _EXTENSIONS_OF.values() for e in exts}


def misnamed(rel: str, real: str) -> str | None:
    ext = rel.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    if ext in _EXTENSIONS_OF[real]:
        return None
    return f"is a {real.upper()} named .{ext}; treated as {real.upper()} (outputs are named and typed by content)"
