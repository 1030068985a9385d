"""A site with images during development: what the builds after a page's edit cost.

python bench/scale/pages.py [--files 20000] [--work DIR] [--label NAME]

The tree: the demo site (`fixtures/site`: its images, the pages that show them, its Vite manifest) and
`--files` small text files (scripts, stylesheets, JSON, and one page in ten, 200 a folder), built with the
defaults (images on, pages rewritten, `br` and `gzip`). Each step is one build in a fresh process, after
the 2 s racy window:

- `cold`, then `settled` (nothing changed). The build after the cold one was a full build until 2026-12-07
  (every file the cold build wrote, and the text files `make` wrote just before it, recorded racy: more
  than 1,000 to look at); now it is a delta that hashes the racy sources again and trusts what the cold
  build put in place (writer.Stamps);
- `page edited`: one page gets a paragraph. A full build until 2026-12-07 (the pages are rewritten); now
  a delta that rewrites that page (build/deltapages.py);
- `script after page`: one script edited after it. A build that wrote images recorded nothing until
  2026-12-07, so this was a second full build; now it is a delta;
- `script again`, `unchanged`;
- `demo page afresh`: the demo's `about.html`, which shows photos, written again as the framework's build
  writes it (its own `<img>` markup) with a paragraph more: a delta that rewrites it with `<picture>`s;
- `new page with a photo`: a new page shows a photo as the home page does (unsized): the pages together
  show the image stage what they showed, a delta;
- `photo at a new width`: that page shows a photo at a width no page gave it: the image stage's input
  changed, a full build (which writes the renditions for it);
- `script after that`: a delta again.

Each line gives the step, the route the build took (full, delta, noop), its wall time from the process's
start to its end, and what it wrote. `ASSETPIPE_SRC=DIR` runs another checkout, as run.py does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RACY_S = 2.3  # statmemo.RACY_NS and a margin: a file written within it is looked at again

_ONE = """
import json, sys
from pathlib import Path
from assetpipe.build.pipeline import BuildRequest, build
from assetpipe.config import Config

class Quiet:
    def start(self, total, label): ...
    def advance(self, output, outcome): ...
    def failure(self, failure): ...
    def notice(self, notice): ...
    def done(self): ...

if __name__ == "__main__":
    r = build(BuildRequest(Path(sys.argv[1]), Config(), Path(sys.argv[2]), jobs=2), Quiet())
    print(json.dumps({"route": r.route, "exit": r.exit_code, "encoded": r.stats.encoded,
                      "written": r.stats.written, "removed": r.stats.removed, "images": r.stats.images}))
"""


def make(n: int, site: Path) -> None:
    """The demo site (its images, pages and Vite manifest), and N small text files, the same bytes every time."""
    shutil.copytree(REPO / "fixtures" / "site", site)
    kinds = (".js", ".css", ".json", ".js", ".css", ".json", ".js", ".css", ".json", ".html")
    for i in range(n):
        folder = site / f"d{i // 200:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        ext = kinds[i % len(kinds)]
        body = {".js": f"export const v{i} = (a) => a * {i} + 1;\n" * 12,
                ".css": f".c{i} {{ margin: {i % 7}px; padding: 0 }}\n" * 12,
                ".json": json.dumps({"name": f"item {i}", "values": list(range(12))}, indent=2),
                ".html": f"<!doctype html><title>page {i}</title>" + "<p>text of the page</p>\n" * 12}[ext]
        (folder / f"f{i:06d}{ext}").write_text(body)


def one(site: Path, cache: Path) -> dict:
    started = time.perf_counter()
    # run from the tree's folder: `python -c` puts the working folder first on sys.path, before ASSETPIPE_SRC
    done = subprocess.run([sys.executable, "-c", _ONE, str(site), str(cache)], capture_output=True, text=True,
                          check=False, cwd=site.parent)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"exit": done.returncode, "wall_s": round(wall, 2), "stderr_tail": done.stderr[-400:]}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": round(wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--work", type=Path,
                    default=Path(os.environ.get("ASSETPIPE_BENCH_TMP", "/tmp/assetpipe-bench")) / "pages")
    ap.add_argument("--label", default="this checkout")
    a = ap.parse_args()
    if src := os.environ.get("ASSETPIPE_SRC"):
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (src, os.environ.get("PYTHONPATH"))))
    root = a.work / f"pages-{a.files}"
    shutil.rmtree(root, ignore_errors=True)
    site, cache = root / "site", root / "cache"
    make(a.files, site)
    page = next(site.glob("d0000/*.html"))
    script = next(site.glob("d0001/*.js"))

    def edit_page() -> None:
        page.write_text(page.read_text() + "<p>One more paragraph.</p>\n")

    def edit_script() -> None:
        script.write_text(script.read_text() + "// edited\n")

    def demo_afresh() -> None:
        text = (REPO / "fixtures" / "site" / "about.html").read_text()
        (site / "about.html").write_text(text.replace("</body>", "<p>One more paragraph.</p></body>"))

    def new_width() -> None:
        about = site / "about.html"
        about.write_text(about.read_text().replace(
            "</body>", '<img src="assets/rocket-o3RhgSeM.jpg" width="200" alt=""></body>'))

    def new_page() -> None:
        (site / "d0000/new-post.html").write_text('<!doctype html><title>New</title><h1>New</h1>'
                                                  '<img src="/assets/rocket-o3RhgSeM.jpg" alt="A rocket">')

    steps = [("cold", None), ("settled", None), ("page edited", edit_page), ("script after page", edit_script),
             ("script again", edit_script), ("unchanged", None), ("demo page afresh", demo_afresh),
             ("new page with a photo", new_page), ("photo at a new width", new_width),
             ("script after that", edit_script)]
    for name, change in steps:
        if name != "cold":
            time.sleep(RACY_S)
        if change is not None:
            change()
        row = {"label": a.label, "files": a.files, "step": name, **one(site, cache)}
        print(json.dumps(row), flush=True)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
