"""Renaming an ES module's top-level names (assetpipe/minify/esmodule.py): modules minified this way run the same
in node, through a real build as a user runs it; and every case where renaming would change what a
module means makes it decline, leaving the plain minifier's result."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from assetpipe.minify import esmodule
from assetpipe.minify import minifier as minify

from .conftest import REPO

ESM = REPO / "fixtures" / "minify" / "esm"
NODE = shutil.which("node") or shutil.which("nodejs")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs Debian's nodejs)")


def run_node(entry: Path) -> dict:
    done = subprocess.run([NODE, str(entry)], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(done.stdout)


def plain(source: bytes) -> bytes:
    """tdewolff-minify's result alone, without the renaming."""
    import minify as library

    minify.minify_bytes("js", b"0")  # configures the library as assetpipe does
    return library.string("application/javascript", source.decode()).encode()


def rename(source: bytes) -> str:
    import minify as library

    minify.minify_bytes("js", b"0")
    return esmodule.minify_module(source, lambda text: library.string("application/javascript", text))


@needs_node
def test_a_minified_build_of_modules_runs_the_same_in_node(cli, tmp_path, cache_dir) -> None:
    """Every way of importing and exporting, live bindings, a cycle that relies on hoisting, a default
    export that is a snapshot, destructured and string export names, re-exports, top-level await."""
    root = tmp_path / "dist"
    shutil.copytree(ESM, root)
    expected = run_node(root / "main.mjs")
    result = cli("build", str(root), "--cache-dir", str(cache_dir), "--minify", "--no-images")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((root / ".assetpipe" / "manifest.json").read_text())
    minified = {name for name, entry in manifest["files"].items() if "minified" in entry}
    assert {"main.mjs", "counter.mjs", "patterns.mjs", "snapshot.mjs"} <= minified
    assert run_node(root / "main.mjs") == expected
    assert expected["counter"] == {"seenBefore": 0, "live": 2, "viaNamespace": 2,
                                   "keys": ["count", "increment", "start"]}
    assert expected["snapshot"] == {"defaultValue": "initial", "current": "changed"}


def test_top_level_names_are_renamed_and_export_names_kept() -> None:
    source = (ESM / "counter.mjs").read_bytes()
    out = rename(plain(source)).encode()
    assert b"function increment" in plain(source)
    assert b"function increment" not in out and b"let count" not in out
    assert out.endswith(b"export{e as count,t as increment,n as start}")
    assert len(out) < len(plain(source))
    assert minify.minify_bytes("js", source) == out


def test_imports_get_short_local_names_and_keep_what_they_import() -> None:
    source = b'import * as helpers from "./h.js";\nimport main, {other as renamedOther} from "./m.js";\n' \
             b'import {"kebab-name" as kebab} from "./k.js";\nimport "./side-effect.js";\n' \
             b"export const total = helpers.value + main + renamedOther + kebab;\n"
    out = rename(plain(source))
    assert out == ('import*as e from"./h.js";import t,{other as n}from"./m.js";import{"kebab-name" as s}'
                   'from"./k.js";import"./side-effect.js";const o=e.value+t+n+s;export{o as total}')


def test_export_default_of_a_name_is_a_live_binding_only_when_nothing_assigns_it() -> None:
    hoisted = rename(plain(b'import a from "./a.js";\nfunction chunkHelper() { return a }\n'
                           b"export default chunkHelper;\n"))
    assert hoisted.endswith("export{t as default}") and "const" not in hoisted
    reassigned = rename(plain(b'import a from "./a.js";\nlet value = a;\nexport default value;\n'
                              b"export function later() { value = 2 }\n"))
    assert "const" in reassigned and "as default" in reassigned
    declared_after = rename(plain(b"export default value;\nvar value = 1;\n"))
    assert "const" in declared_after


@pytest.mark.parametrize(("source", "reason"), [
    (b"export const x = 1;\nconsole.log(arguments.length);\n", "arguments"),
    (b"export const x = 1;\nif (x) return;\n", "return"),
    (b"#!/usr/bin/env node\nexport const x = 1;\n", "hashbang"),
    (b"export const x = 1, y = 2;\nconsole.log(x <!--y);\n", "<!--"),
    (b"export const x = 1;\nlet y = 2;\nconsole.log(`${y-->x}`);\n", "<!--"),
    (b"export default function () { return 1 }\n", "anonymous"),
    (b"export default class { }\n", "anonymous"),
    (b"export default () => 1;\n", "anonymous"),
    (b"var declaredInAScript = 1;\nconsole.log(declaredInAScript);\n", "no import or export"),
    (b"export const x = ;\n", "does not parse"),
])
def test_what_would_change_meaning_declines(source, reason) -> None:
    with pytest.raises(esmodule.NotAModule, match=reason):
        rename(source)


def test_a_declined_module_still_gets_the_plain_minifier() -> None:
    source = b"export default function () {\n  const longLocalName = 1;\n  return longLocalName;\n}\n"
    assert minify.minify_bytes("js", source) == plain(source)


def test_html_like_markers_in_strings_templates_and_comments_are_fine() -> None:
    source = (b"// <!-- a comment -->\nconst shader = `x --> y <!-- z`;\nconst markup = '<!-- -->';\n"
              b"export const both = shader + markup;\n")
    out = rename(source)
    assert out.endswith("export{n as both}") and "shader" not in out
    assert "`x --> y <!-- z`" in out


@needs_node
def test_export_default_snapshot_semantics_survive_in_node(tmp_path) -> None:
    """The const form: a later assignment must not show through the default export."""
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    module = b'let setting = "first";\nexport default setting;\nexport function change() { setting = "second" }\n'
    entry = b'import value, {change} from "./m.mjs";\nchange();\nconsole.log(JSON.stringify({value}));\n'
    for folder, text in (("before", module), ("after", minify.minify_bytes("js", module))):
        (tmp_path / folder / "m.mjs").write_bytes(text)
        (tmp_path / folder / "main.mjs").write_bytes(entry)
    assert run_node(tmp_path / "before" / "main.mjs") == {"value": "first"}
    assert run_node(tmp_path / "after" / "main.mjs") == {"value": "first"}


@needs_node
def test_known_limit_exported_functions_and_classes_get_new_names(tmp_path) -> None:
    """Documented in the README: in a module the top-level functions and classes are renamed too, exported
    or not (esbuild does the same), so their `name` changes; what importers import them as does not."""
    module = (b"export function describeThing() { return 1 }\n"
              b"export class ThingHolder { get value() { return describeThing() } }\n")
    entry = (b'import {describeThing, ThingHolder} from "./m.mjs";\n'
             b"console.log(JSON.stringify([describeThing.name, ThingHolder.name, new ThingHolder().value]));\n")
    results = []
    for folder, text in (("before", module), ("after", minify.minify_bytes("js", module))):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.mjs").write_bytes(text)
        (tmp_path / folder / "main.mjs").write_bytes(entry)
        results.append(run_node(tmp_path / folder / "main.mjs"))
    assert results[0] == ["describeThing", "ThingHolder", 1]
    assert results[1][2] == 1 and len(results[1][0]) == len(results[1][1]) == 1


@needs_node
def test_a_statement_ended_by_asi_before_an_export_does_not_run_into_the_next(tmp_path) -> None:
    """`export {a};` between `const a = f` and `(b)()` ends the first statement; without it the two would
    read as `f(b)()`. On the source itself: the plain minifier's output, which assetpipe renames, has
    its semicolons already."""
    module = (b'import f from "./f.mjs";\nconst a = f\nexport {a};\n(function b() { globalThis.ran = "b" })()\n'
              b"const later = globalThis.ran;\nexport {later}\n")
    entry = b'import {a, later} from "./m.mjs";\nconsole.log(JSON.stringify({a: typeof a, later}));\n'
    for folder, text in (("before", module), ("after", rename(module).encode())):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.mjs").write_bytes(text)
        (tmp_path / folder / "f.mjs").write_bytes(b"export default function f() { return () => 0 }\n")
        (tmp_path / folder / "main.mjs").write_bytes(entry)
        assert run_node(tmp_path / folder / "main.mjs") == {"a": "function", "later": "b"}, text


def test_a_parenthesised_anonymous_default_export_declines() -> None:
    with pytest.raises(esmodule.NotAModule, match="anonymous"):
        rename(b"export default (function () { return 1 });\n")
