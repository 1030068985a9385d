"""The sites the benchmark loads, and the sides of each: the untouched site, eleventy-img's transform of it,
assetpipe's output and (made later, per profile, by bench.py) the hand-tuned page.

Sites: the demo (fixtures/site), every fixtures/hydrated/<framework>/ present in the checkout being
benchmarked, and the generated MkDocs-Material and Next.js sites (make_mkdocs.sh, make_nextjs.sh).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GENERATED = {"mkdocs": ("/", "/photos/"), "nextjs": ("/", "/photos/")}
DEMO_PAGES = ("/", "/about.html")
SKIP_PAGES = ("404.html", "500.html", "200.html")


@dataclass(frozen=True)
class Site:
    name: str
    root: Path              # the untouched site, as its generator left it
    pages: tuple[str, ...]  # URL paths
    hydrated: bool          # a framework hydrates it (console errors are checked)


def tree_digest(root: Path) -> str:
    """Names and bytes of every file under root: the cache key of a side made from it."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _site_root(folder: Path) -> Path | None:
    """The folder itself when it has an index.html, else its shallowest sub-folder that has one."""
    found = sorted(folder.rglob("index.html"), key=lambda p: (len(p.parts), str(p)))
    found = [p for p in found if "node_modules" not in p.parts]
    return found[0].parent if found else None


def _pages_with_images(root: Path, limit: int = 2) -> tuple[str, ...]:
    pages = []
    for path in sorted(root.rglob("*.html"), key=lambda p: (len(p.parts), str(p))):
        if path.name in SKIP_PAGES or "node_modules" in path.parts:
            continue
        if b"<img" in path.read_bytes():
            rel = path.relative_to(root).as_posix()
            pages.append("/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel))
        if len(pages) == limit:
            break
    return tuple(pages)


def discover(repo: Path, work: Path, only: str | None) -> list[Site]:
    """The sites, each copied (demo, hydrated fixtures) or built (generated) under work/sites/."""
    sites: list[Site] = []
    fresh = work / "sites"
    fresh.mkdir(parents=True, exist_ok=True)
    demo = fresh / "demo"
    shutil.rmtree(demo, ignore_errors=True)
    shutil.copytree(repo / "fixtures" / "site", demo)
    sites.append(Site("demo", demo, DEMO_PAGES, hydrated=False))
    hydrated = repo / "fixtures" / "hydrated"
    for folder in sorted(p for p in hydrated.glob("*") if p.is_dir()) if hydrated.is_dir() else []:
        root = _site_root(folder)
        if root is None:
            continue
        copy = fresh / f"hydrated-{folder.name}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(root, copy)
        pages = _pages_with_images(copy)
        if pages:
            sites.append(Site(f"hydrated-{folder.name}", copy, pages, hydrated=True))
    for name, pages in GENERATED.items():
        if (fresh / name / "index.html").exists():
            sites.append(Site(name, fresh / name, pages, hydrated=name == "nextjs"))
    return [s for s in sites if not only or only in s.name]


def eleventy_side(site: Site, work: Path, anchor: Path) -> tuple[Path, str]:
    """eleventy-img's HTML transform of the site (anchors/eleventy_transform.sh), cached by the site's bytes."""
    out = work / "sides" / site.name / "eleventy"
    stamp = tree_digest(site.root) + hashlib.sha256(anchor.read_bytes()).hexdigest()[:16]
    stamp_file = out.parent / "eleventy.stamp"
    if out.is_dir() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return out, "cached"
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["bash", str(anchor), str(site.root), str(out)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"eleventy transform of {site.name} failed: {done.stdout[-800:]}{done.stderr[-800:]}")
    stamp_file.write_text(stamp)
    return out, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def assetpipe_side(site: Site, work: Path, assetpipe_bin: str) -> tuple[Path, int, str]:
    """`assetpipe build SITE --out OUT` with the default config (run from a folder with no assetpipe.toml);
    the shared cache folder keeps a second run cheap. Returns the folder, the exit code and stderr."""
    out = work / "sides" / site.name / "assetpipe"
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETPIPE_CACHE")}
    done = subprocess.run([assetpipe_bin, "build", str(site.root), "--out", str(out), "--cache-dir",
                           str(work / "cache"), "-q"], cwd=work, capture_output=True, text=True, env=env)
    if done.returncode not in (0, 1) or not out.is_dir():
        raise RuntimeError(f"assetpipe build of {site.name} failed ({done.returncode}): {done.stderr[-800:]}")
    return out, done.returncode, done.stderr.strip()


def page_file(root: Path, page: str) -> Path:
    """The file nginx serves for a URL path."""
    rel = page.lstrip("/")
    return root / (rel + "index.html" if rel == "" or rel.endswith("/") else rel)
