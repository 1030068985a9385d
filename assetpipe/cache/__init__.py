"""The cache folder, outside the build folder (`--cache-dir`, `$ASSETPIPE_CACHE_DIR`, `./.assetpipe-cache`).

Takes a recipe's key (source sha256 + codec + settings + library version) and returns the bytes encoded
for it before, or nothing: `store` (`Cache`, `key`, `library_version`). The same SQLite file keeps the
scan's `statmemo`: what reading each file of a build folder found, by its stat stamp, so a warm build
reads only what changed. Every stage that encodes (compress, images, minify) reads and writes it.
"""
