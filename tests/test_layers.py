"""The package's layers (docs/architecture.md): no import runs back up a layer, and no two parts import
each other. Every import counts, the ones inside functions and under TYPE_CHECKING included."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "assetpipe"

# Each top-level module or subpackage, by layer: a part may import its own layer and the ones below.
LAYERS = {
    # 0: what every stage shares
    "assetpipe": 0,  # __init__: the version
    "assetpipe.model": 0,
    "assetpipe.units": 0,
    "assetpipe.naming": 0,
    "assetpipe.globs": 0,
    "assetpipe.mediatypes": 0,
    "assetpipe.config": 0,
    "assetpipe.cache": 0,
    # 1: the stages' work, bytes in and bytes out, and each stage's step
    "assetpipe.compress": 1,
    "assetpipe.html": 1,
    "assetpipe.images": 1,
    "assetpipe.minify": 1,
    "assetpipe.vitals": 1,  # page loads in Chromium (stdlib only): build/lcp and bench/vitals use it
    # 2: the one build, which runs the stages
    "assetpipe.build": 2,
    # 3: what reads a finished build (its manifest) or runs builds
    "assetpipe.sizes": 3,
    "assetpipe.upload": 3,
    "assetpipe.watch": 3,
    # 4: the edge: the terminal and the command line
    "assetpipe.report": 4,
    "assetpipe.cli": 4,
    "assetpipe.__main__": 4,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imports(path: Path) -> set[str]:
    """The assetpipe modules (or packages) `path` imports, as absolute names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "assetpipe")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "assetpipe":
                module = node.module
            else:
                continue
            found.add(module)
    return found


def edges() -> list[tuple[str, str, str]]:
    """(importing file, its part, the imported part) for every import of assetpipe by assetpipe."""
    return [(str(path.relative_to(REPO)), part_of(module_name(path)), part_of(target))
            for path in sorted(PACKAGE.rglob("*.py")) for target in imports(path)]


def test_every_part_has_a_layer() -> None:
    parts = {part_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert sorted(parts - LAYERS.keys()) == []
    assert sorted(LAYERS.keys() - parts) == []


def test_no_import_runs_back_up_a_layer() -> None:
    upward = [f"{file} ({LAYERS[source]}) imports {target} ({LAYERS[target]})"
              for file, source, target in edges() if LAYERS[target] > LAYERS[source]]
    assert upward == []


def test_no_two_parts_import_each_other() -> None:
    graph: dict[str, set[str]] = {}
    for _file, source, target in edges():
        if source != target:
            graph.setdefault(source, set()).add(target)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"parts that import each other: {exc.args[1]}") from None


def test_vitals_stands_alone() -> None:
    """assetpipe.vitals (page loads in Chromium) imports no other part: the benchmark uses it without a
    build, and the build reaches it through build/lcp.py only."""
    outside = [f"{file} imports {target}" for file, source, target in edges()
               if source == "assetpipe.vitals" and target != "assetpipe.vitals"]
    assert outside == []
    users = sorted({file for file, source, target in edges()
                    if target == "assetpipe.vitals" and source != "assetpipe.vitals"})
    assert set(users) <= {"assetpipe/build/lcp.py"}
