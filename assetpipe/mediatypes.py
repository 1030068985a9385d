"""What a file is: its media type and whether precompression can help it.

The table is the project's own (after nginx's mime.types), not the host's `mimetypes`, whose answers
depend on the machine (on CPython 3.11 `.map` has no type at all). Images and compressed formats are
recognised by their first bytes, so a PNG named `.js` is still never precompressed.
"""

from __future__ import annotations

from .model import Kind

# extension -> (media type, compressible). Compressible means a text-like format that gzip and
# Brotli shrink; everything already compressed (images, woff/woff2, archives, media) is False.
_TABLE: dict[str, tuple[str, bool]] = {
    # documents and code
    "html": ("text/html", True),
    "htm": ("text/html", True),
    "css": ("text/css", True),
    "js": ("text/javascript", True),
    "mjs": ("text/javascript", True),
    "cjs": ("text/javascript", True),
    "json": ("application/json", True),
    "map": ("application/json", True),
    "webmanifest": ("application/manifest+json", True),
    "jsonld": ("application/ld+json", True),
    "xml": ("application/xml", True),
    "rss": ("application/rss+xml", True),
    "atom": ("application/atom+xml", True),
    "xhtml": ("application/xhtml+xml", True),
    "svg": ("image/svg+xml", True),
    "txt": ("text/plain", True),
    "md": ("text/markdown", True),
    "csv": ("text/csv", True),
    "tsv": ("text/tab-separated-values", True),
    "vtt": ("text/vtt", True),
    "ics": ("text/calendar", True),
    "yaml": ("application/yaml", True),
    "yml": ("application/yaml", True),
    "toml": ("application/toml", True),
    "wasm": ("application/wasm", True),
    "glsl": ("text/plain", True),
    "wgsl": ("text/plain", True),
    "topojson": ("application/json", True),
    "geojson": ("application/geo+json", True),
    # fonts: the old formats are uncompressed tables; woff and woff2 are compressed already
    "ttf": ("font/ttf", True),
    "otf": ("font/otf", True),
    "eot": ("application/vnd.ms-fontobject", True),
    "woff": ("font/woff", False),
    "woff2": ("font/woff2", False),
    # images (ico holds BMP or PNG frames: worth trying, the ratio rule drops what does not shrink)
    "ico": ("image/vnd.microsoft.icon", True),
    "bmp": ("image/bmp", True),
    "jpg": ("image/jpeg", False),
    "jpeg": ("image/jpeg", False),
    "png": ("image/png", False),
    "apng": ("image/apng", False),
    "gif": ("image/gif", False),
    "webp": ("image/webp", False),
    "avif": ("image/avif", False),
    "jxl": ("image/jxl", False),
    "heic": ("image/heic", False),
    # media
    "mp4": ("video/mp4", False),
    "webm": ("video/webm", False),
    "ogv": ("video/ogg", False),
    "mov": ("video/quicktime", False),
    "mp3": ("audio/mpeg", False),
    "ogg": ("audio/ogg", False),
    "oga": ("audio/ogg", False),
    "opus": ("audio/opus", False),
    "m4a": ("audio/mp4", False),
    "aac": ("audio/aac", False),
    "flac": ("audio/flac", False),
    "wav": ("audio/wav", False),
    # archives and compressed data
    "zip": ("application/zip", False),
    "gz": ("application/gzip", False),
    "tgz": ("application/gzip", False),
    "br": ("application/x-brotli", False),
    "zst": ("application/zstd", False),
    "bz2": ("application/x-bzip2", False),
    "xz": ("application/x-xz", False),
    "7z": ("application/x-7z-compressed", False),
    "rar": ("application/vnd.rar", False),
    "pdf": ("application/pdf", False),
}

OCTET_STREAM = "application/octet-stream"
# Pages: addressed by their URL, never cached as immutable (the upload plan revalidates them every visit).
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# (magic prefix, offset, media type). Checked before the extension table.
_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
)
_COMPRESSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "application/gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
)
_AVIF_BRANDS = (b"avif", b"avis")

# How many leading bytes `sniff` needs.
SNIFF_BYTES = 32


def extension(rel: str) -> str:
    """The lower-case extension of a POSIX path, without the dot ("" when there is none)."""
    name = rel.rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def sniff_image(head: bytes) -> str | None:
    """The media type of a raster image recognised by its first bytes, else None."""
    for magic, offset, media_type in _IMAGE_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and (head[8:12] in _AVIF_BRANDS or any(b in head[16:32] for b in _AVIF_BRANDS)):
        return "image/avif"
    return None


def classify(rel: str, head: bytes) -> tuple[str, Kind, bool]:
    """(media type, kind, compressible) for a file, from its first bytes and then its name."""
    image = sniff_image(head)
    if image is not None:
        return image, Kind.IMAGE, False
    for magic, media_type in _COMPRESSED_MAGIC:
        if head.startswith(magic):
            return media_type, Kind.COMPRESSED, False
    media_type, compressible = _TABLE.get(extension(rel), (OCTET_STREAM, False))
    if media_type.startswith("image/") and media_type != "image/svg+xml":
        kind = Kind.IMAGE
    elif compressible:
        kind = Kind.TEXT
    else:
        kind = Kind.COMPRESSED if media_type != OCTET_STREAM else Kind.OTHER
    return media_type, kind, compressible


def is_source_map(rel: str) -> bool:
    return extension(rel) == "map"
