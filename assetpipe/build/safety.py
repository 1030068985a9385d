"""The checks that keep a build from losing anyone's work, made before anything is written.

- A folder that looks like a project's sources (a `package.json` beside `node_modules/`, a bundler's or
  a site generator's config) is not a build output: building it would put sidecars beside every file
  of `node_modules/` and rewrite the source `index.html`. Refused, with a hint at the real output.
- The cache never lies inside the folder being built or written: it would be deployed with the site.
- The state folder `.assetpipe/` is written only when it is a real folder inside the build folder.
- The removal net: a build removes only its own outputs, verified by their bytes (scan.py), but a
  lost or foreign ledger could still make a whole site look like stale outputs. So a build that would
  remove more than a small share of the folder's files whose sources are gone stops before removing
  anything, as rsync's `--max-delete` and Terraform's plan do, unless the user allows it.

Pure functions of paths, plans and file lists; each refusal is one line the CLI prints (exit 2).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import naming
from ..model import OwnedFile, SourceFile
from .ledger import COPY, STATE_DIR

# Removals of outputs whose source is gone (and of --out copies of files no longer in DIR) above both
# figures stop a build: a deleted page or a renamed chunk removes a handful of files, a lost or copied
# ledger removes most of the folder. The floor keeps small sites (a page and its two sidecars) from
# tripping on an ordinary edit; the share is rsync-style caution on big ones.
REMOVAL_SHARE = 0.10
REMOVAL_FLOOR = 10

# Files that mark a project's source folder, with the folder its build usually writes to.
_PROJECT_MARKERS: tuple[tuple[str, str], ...] = (
    ("vite.config.*", "dist"),
    ("astro.config.*", "dist"),
    ("next.config.*", "out"),
    ("nuxt.config.*", ".output/public"),
    ("svelte.config.*", "build"),
    ("mkdocs.yml", "site"),
    ("mkdocs.yaml", "site"),
    ("conf.py", "_build/html"),
)
_VITE_OUT_DIR = re.compile(r"""\boutDir\s*:\s*['"]([^'"\n]+)['"]""")
_MKDOCS_SITE_DIR = re.compile(r"^site_dir\s*:\s*['\"]?([^'\"\n#]+?)['\"]?\s*(?:#.*)?$", re.MULTILINE)
# Same-URL image sidecars are named `x.jpg.avif`; variants `stem.<8 hex>.<width>w.<ext>` (naming.VARIANT).
_IMAGE_SIDECARS = (".avif", ".webp")


@dataclass(frozen=True)
class Removals:
    """What a build would remove, split by whether the file's source is still in the folder."""

    of_present: tuple[str, ...]  # outputs of a source still present (a format or width dropped, --no-compress)
    orphaned: tuple[str, ...]  # outputs whose source is gone, and --out copies of files no longer in DIR


def project_sources(folder: Path) -> str | None:
    """The refusal for a folder that holds a project's sources rather than its build output, else None."""
    markers = []  # (what was found, the usual output folder), the most telling first
    for pattern, output in _PROJECT_MARKERS:
        found = sorted(p.name for p in folder.glob(pattern) if p.is_file())
        if found and (pattern != "conf.py" or _is_sphinx(folder / "conf.py")):
            markers.append((found[0], output))
    if (folder / "package.json").is_file() and (folder / "node_modules").is_dir():
        markers.append(("package.json beside node_modules/", "dist"))
    if not markers:
        return None
    what, output = markers[0]
    output = _configured_output(folder) or output
    hint = f"{folder / output}/" if (folder / output).is_dir() else f"{output}/ (after your build)"
    return (f"{folder}: looks like a project's sources ({what}), not its build output; did you mean {hint}? "
            "(--force builds it anyway)")


def _is_sphinx(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "extensions" in text or "html_theme" in text or "project" in text


def _configured_output(folder: Path) -> str | None:
    """The output folder a Vite or MkDocs config names (`build.outDir`, `site_dir`), where it can be read."""
    for pattern, regex in (("vite.config.*", _VITE_OUT_DIR), ("mkdocs.y*ml", _MKDOCS_SITE_DIR)):
        for path in sorted(folder.glob(pattern)):
            try:
                match = regex.search(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
            if match:
                return match.group(1).strip().strip("/") or None
    return None


def state_refusal(folder: Path) -> str | None:
    """The refusal for a state folder (`.assetpipe/`) that is a link, or not a folder: writing the
    manifest and the ledger through it would write outside the folder being built."""
    state = folder / STATE_DIR
    if state.is_symlink():
        return (f"{state}: a symbolic link (to {os.readlink(state)}); assetpipe writes its state only inside "
                f"{folder}: remove the link and build again")
    if state.exists() and not state.is_dir():
        return f"{state}: not a folder; assetpipe keeps its manifest and ledger there: move the file away"
    return None


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies within it, links resolved (neither need exist)."""
    real, real_folder = os.path.realpath(path), os.path.realpath(folder)
    return real == real_folder or real.startswith(real_folder.rstrip(os.sep) + os.sep)


def cache_refusal(cache_dir: Path, folders: Iterable[Path]) -> str | None:
    """The refusal for a cache folder inside a folder being built or written, else None."""
    for folder in folders:
        if inside(cache_dir, folder):
            return (f"--cache-dir {cache_dir}: inside {folder}, the folder being built, so it would be deployed "
                    "with the site; choose a folder outside it (by default assetpipe uses ./.assetpipe-cache, or "
                    "~/.cache/assetpipe when the working directory is inside the build folder)")
    return None


def default_cache_dir(cwd: Path, folders: Iterable[Path], environ: dict[str, str] | os._Environ[str]) -> Path:
    """`./.assetpipe-cache`, unless the working directory is inside a folder being built: then the
    user's cache folder (`$XDG_CACHE_HOME/assetpipe`, else `~/.cache/assetpipe`)."""
    local = cwd / ".assetpipe-cache"
    if not any(inside(local, folder) for folder in folders):
        return Path(".assetpipe-cache")
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "assetpipe"


def removals(stale: Iterable[OwnedFile], sources: Iterable[SourceFile]) -> Removals:
    """Split a plan's removals: outputs of a source still present, and the rest (the net counts those)."""
    present = {s.rel for s in sources}
    stems = {_stem(rel) for rel in present}
    renamed = {_unhashed(rel) for rel in present}
    of_present: list[str] = []
    orphaned: list[str] = []
    for output in stale:
        if _made_from_present(output, present, stems) or _renamed(output, renamed):
            of_present.append(output.rel)
        else:
            orphaned.append(output.rel)
    return Removals(tuple(of_present), tuple(orphaned))


def removal_refusal(planned: Removals, files: int, where: Path) -> str | None:
    """The net's one line when the orphaned removals are more than a small share of `files`, else None."""
    count = len(planned.orphaned)
    if count <= max(REMOVAL_FLOOR, REMOVAL_SHARE * files):
        return None
    shown = ", ".join(planned.orphaned[:3]) + (f" and {count - 3} more" if count > 3 else "")
    return (f"{where}: this build would remove {count} of its {files} files whose sources are gone ({shown}); "
            f"more than {REMOVAL_SHARE:.0%} looks like a lost or copied ledger, not an edit, so nothing was written. "
            "`--dry-run` lists every removal; `--allow-delete` (or [build] allow_delete = true) goes ahead")


def _made_from_present(output: OwnedFile, present: set[str], stems: set[tuple[str, str]]) -> bool:
    """Whether `output` was made from a source still present (by the names assetpipe gives its outputs)."""
    if output.key.startswith(COPY):
        return False
    base = _sidecar_base(output.rel)
    if base is not None and base in present:
        return True
    # a variant, or a fallback rendition's same-URL sidecar (`hero.cf892927.451w.jpg.avif`, images/standins.py)
    match = naming.VARIANT.match(output.rel) or (naming.VARIANT.match(base) if base is not None else None)
    return match is not None and _split(match["stem"]) in stems


def _sidecar_base(rel: str) -> str | None:
    for suffix in (*naming.SIDECAR_SUFFIXES.values(), *_IMAGE_SIDECARS):
        if rel.endswith(suffix) and len(rel) > len(suffix):
            return rel[: -len(suffix)]
    return None


def _renamed(output: OwnedFile, renamed: set[str]) -> bool:
    """A copy or sidecar of a hashed file whose new build has the same name with another hash: a chunk
    that changed, not one that went (Vite renames every changed chunk)."""
    rel = output.rel if output.key.startswith(COPY) else _sidecar_base(output.rel)
    if rel is None:
        return False
    unhashed = _unhashed(rel)
    return unhashed != rel and unhashed in renamed


def _unhashed(rel: str) -> str:
    token = naming.content_hash(rel, bundler_named=True)
    if token is None:
        return rel
    folder, _, name = rel.rpartition("/")
    name = name.replace(token, "*")
    return f"{folder}/{name}" if folder else name


def _stem(rel: str) -> tuple[str, str]:
    """(folder, name without its extension): what a rendition's name keeps of its source's."""
    folder, name = _split(rel)
    return folder, name.rsplit(".", 1)[0] if "." in name else name


def _split(rel: str) -> tuple[str, str]:
    folder, _, name = rel.rpartition("/")
    return folder, name
