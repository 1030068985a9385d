"""Page-load measurement in a real browser: headless Chromium driven through the DevTools protocol over a
pipe (`browser`), the phone and desktop profiles (`profiles`), and one cold load of one URL read back as
LCP, CLS, bytes, console errors and every image's state (`pageload`). Standard library only: used by
`assetpipe build --measure-lcp` (through build/lcp.py) and by the benchmark in bench/vitals.
"""
