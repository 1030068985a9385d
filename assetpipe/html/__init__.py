"""The `<picture>` rewrite (SPEC §2.2): takes one page's bytes and a PictureSpec per processed image,
returns the page with each `<img>` of those images as a `<picture>`, every other byte as it was.

`rewrite` (the entry point) decides what each tag becomes; `shown` lists what a page shows; `parse` reads the
page (charset, tags and their exact spans, with html5lib); `attributes` scans the attributes inside one
tag; `urls` resolves and writes URLs; `owned` recognises the pictures an earlier run wrote; `loading`
decides which images are eager, lazy or high priority (web vitals). `picture`
holds the PictureSpec the image stage hands over, apart, so that a build without pages never imports
html5lib. Pure: no files.
"""
