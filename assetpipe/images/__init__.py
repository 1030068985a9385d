"""Responsive images (SPEC §2.1): takes the build's raster images (JPEG, PNG, GIF, WebP, AVIF, by content)
and `[images]`, returns for each its variants (modern formats and a fallback at every width, never
upscaled), its same-URL sidecars, the manifest's `image` entry and the PictureSpec the `<picture>`
rewrite needs; or one failure line for an image that cannot be processed.

`stage` plans every rendition from the headers before any pixel is decoded, looks each one up (on disk,
in the cache), and has the rest encoded in `encodepool`'s worker processes; `decide` says what the results
come to (kept, dropped, stored once, the manifest entry, the PictureSpec). Pure, bytes in and bytes out:
`renditions` (what an image is, which renditions it gets and their names), `decode` (the header and the
one decode), `encode` (resize and encode), `bmff` (an animated AVIF's timestamps zeroed). `originals`:
the opt-in `images.optimize_originals`, both its optimisers and its step of the stage. Nothing here
writes into the build folder: build/ does, through its writer.
"""
