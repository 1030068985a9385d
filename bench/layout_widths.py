"""Image bytes a phone fetches from a page of photos the author gave widths (issue 23, item 3).

    python bench/layout_widths.py make DIR            # a page of corpus photos, width="300" / width="512"
    python -m assetpipe build DIR --cache-dir CACHE   # (with the assetpipe to measure)
    python bench/layout_widths.py measure DIR [DIR …] # Chromium at the phone profile: each image's currentSrc

`measure` loads DIR/index.html in headless Chromium emulating the phone profile of issue 23 (412 px wide,
device pixel ratio 2.625; tall enough that every lazy image loads), takes every `<img>`'s `currentSrc`, and
sums those files' bytes on disk: what the phone downloads for the images (the page served as it is, by a
local HTTP server; no throttling is needed for bytes). Prints one line per image and a total per DIR.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CORPUS = Path(os.environ.get("ASSETPIPE_CORPUS", "/tmp/assetpipe-corpus")) / "photos"
# (photo, the width its <img> says): mid-size photos of the corpus, as a documentation page shows them
PHOTOS = (("skimage-hubble_deep_field.jpg", 300), ("mate-Dune.jpg", 512), ("mate-FreshFlower.jpg", 300),
          ("skimage-retina.jpg", 512), ("mate-Blinds.jpg", 300), ("mate-Storm.jpg", 512),
          ("mate-LadyBird.jpg", 300), ("mate-TwoWings.jpg", 512))
PHONE = {"width": 412, "height": 12000, "pixelRatio": 2.625}  # issue 23's phone, tall: every image in view
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOWN = """
const done = arguments[arguments.length - 1];
const imgs = [...document.images];
const ready = () => imgs.every(i => i.complete);
const report = () => done(imgs.map(i => ({src: i.currentSrc, box: i.getBoundingClientRect().width})));
(function wait() { ready() ? report() : setTimeout(wait, 50); })();
"""


def make(site: Path) -> None:
    """The untouched page: each photo in `<p><img src width alt></p>`, as an author writes them."""
    (site / "photos").mkdir(parents=True, exist_ok=True)
    rows = []
    for name, width in PHOTOS:
        shutil.copyfile(CORPUS / name, site / "photos" / name)
        rows.append(f'<p><img src="photos/{name}" alt="{name}" width="{width}"></p>')
    body = "\n".join(rows)
    (site / "index.html").write_text(f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
                                     f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                                     f"<title>Photos</title><style>img{{max-width:100%;height:auto}}</style>"
                                     f"</head><body>\n{body}\n</body></html>\n")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def measure(site: Path) -> dict:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(arg)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        browser.set_script_timeout(120)
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        shown = browser.execute_async_script(SHOWN)
        dpr = browser.execute_script("return window.devicePixelRatio")
    finally:
        browser.quit()
        server.shutdown()
        server.server_close()
    images = []
    for image in shown:
        rel = unquote(urlsplit(image["src"]).path).lstrip("/")
        images.append({"file": rel, "bytes": (site / rel).stat().st_size, "css_width": image["box"]})
    return {"site": str(site), "dpr": dpr, "images": images, "total": sum(i["bytes"] for i in images)}


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "make":
        make(Path(argv[1]))
        return 0
    if len(argv) >= 2 and argv[0] == "measure":
        for site in argv[1:]:
            result = measure(Path(site))
            for image in result["images"]:
                print(f"{image['bytes']:>9,}  {image['css_width']:>6.1f} css px  {image['file']}")
            print(f"{result['total']:>9,}  total at DPR {result['dpr']}  {site}")
            print(json.dumps(result), file=sys.stderr)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
