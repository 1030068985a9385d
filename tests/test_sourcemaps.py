"""Source-map attribution: a map worked out by hand, and the demo chunk against source-map-explorer."""

from __future__ import annotations

import json

import pytest

from assetpipe.sizes.sourcemaps import EOLS, MAP_COMMENT, UNMAPPED, SourceMapError, breakdown, decode_vlq, package_of

from .conftest import DEMO


def test_vlq_decoding() -> None:
    assert decode_vlq("AAAA") == [0, 0, 0, 0]
    assert decode_vlq("QCAA") == [8, 1, 0, 0]
    assert decode_vlq("ADAA") == [0, -1, 0, 0]
    assert decode_vlq("2HwBgB") == [123, 24, 16]  # "2H": 22 + (7 << 5) = 246 -> 123; "wB": 48 -> 24
    with pytest.raises(SourceMapError):
        decode_vlq("g")  # a continuation digit with nothing after it


def test_a_tiny_map_worked_out_by_hand() -> None:
    # line 1: `s="é😀";` (8 UTF-16 units, 11 bytes) from a.js, then `t=1;` (4 bytes) from the package;
    # line 2: `c()` (3 bytes) from a.js; then the map comment (22 bytes) and three line breaks.
    # source-map-explorer 2.5.3 gives the same counts for these two files.
    code = 's="é😀";t=1;\nc()\n//# sourceMappingURL=x\n'.encode()
    source_map = {
        "version": 3,
        "sources": ["src/a.js", "../node_modules/@scope/pkg/b.js"],
        "names": [],
        # line 1: col 0 -> source 0; col +8 -> source +1.  line 2: col 0 -> source -1 (a.js).
        "mappings": "AAAA,QCAA;ADAA",
    }
    result = breakdown("assets/x.js", code, source_map, "assets/x.js.map")
    assert result.size == len(code) == 11 + 4 + 1 + 3 + 1 + 22 + 1
    assert dict(result.sources) == {
        "assets/src/a.js": 11 + 3,
        "node_modules/@scope/pkg/b.js": 4,
        MAP_COMMENT: 22,
        EOLS: 3,
    }
    assert result.packages == ((MAP_COMMENT, 22), ("(app)", 14), ("@scope/pkg", 4), (EOLS, 3))

def test_unmapped_spans_and_lines_without_mappings() -> None:
    code = b"abcdef\nghij"
    # line 1: a generated-only segment at col 2 (unmapped), a mapped one at col 4; line 2: no mappings.
    result = breakdown("x.js", code, {"version": 3, "sources": ["a.js"], "mappings": "E,EAAA;"})
    assert dict(result.sources) == {UNMAPPED: 2 + 2 + 4, "a.js": 2, EOLS: 1}
    assert sum(size for _, size in result.sources) == len(code)


def test_the_demo_chunk_matches_source_map_explorer() -> None:
    # The expected numbers are what source-map-explorer 2.5.3 reports for the same two files
    # (`source-map-explorer index-2vZXRZ4C.js --json`), with paths resolved against the map's folder.
    code = (DEMO / "assets" / "index-2vZXRZ4C.js").read_bytes()
    source_map = json.loads((DEMO / "assets" / "index-2vZXRZ4C.js.map").read_text())
    result = breakdown("assets/index-2vZXRZ4C.js", code, source_map, "assets/index-2vZXRZ4C.js.map")
    assert result.sources == (
        ("node_modules/preact/compat/src/render.js", 2637),
        ("node_modules/preact/compat/src/suspense.js", 1878),
        ("src/main.tsx", 1331),
        ("src/components/ProductCard.tsx", 668),
        ("src/components/Rating.tsx", 290),
        ("src/lib/api.ts", 285),
        (UNMAPPED, 174),
        ("node_modules/preact/compat/src/util.js", 152),
        ("src/assets/hero.jpg", 47),
        (MAP_COMMENT, 42),
        ("node_modules/preact/src/constants.js", 34),
        ("src/styles/index.css", 16),
        (EOLS, 2),
    )
    assert sum(size for _, size in result.sources) == result.size == 7556
    assert result.packages == (("preact", 4701), ("(app)", 2637), (UNMAPPED, 174), (MAP_COMMENT, 42), (EOLS, 2))


def test_package_names() -> None:
    assert package_of("node_modules/preact/compat/src/x.js") == "preact"
    assert package_of("node_modules/@tanstack/react-query/build/x.js") == "@tanstack/react-query"
    assert package_of("node_modules/a/node_modules/b/index.js") == "b"  # the innermost copy
    assert package_of("src/main.tsx") == "(app)"


def test_not_a_v3_map() -> None:
    with pytest.raises(SourceMapError):
        breakdown("x.js", b"x", {"version": 2, "mappings": ""})
    with pytest.raises(SourceMapError):
        breakdown("x.js", b"x", {"version": 3, "sections": []})


def test_finding_a_chunks_map(tmp_path) -> None:
    import base64

    from assetpipe.sizes.measure import source_map_for

    (tmp_path / "assets").mkdir()
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "a.js.map").write_text("{}")
    code = b"x()\n//# sourceMappingURL=../maps/a.js.map\n"
    assert source_map_for(tmp_path, "assets/a.js", code) == ("maps/a.js.map", b"{}")
    inline = b"x()\n//# sourceMappingURL=data:application/json;base64," + base64.b64encode(b'{"version":3}') + b"\n"
    assert source_map_for(tmp_path, "assets/b.js", inline) == ("assets/b.js", b'{"version":3}')
    (tmp_path / "assets" / "c.js.map").write_text("{}")
    assert source_map_for(tmp_path, "assets/c.js", b"c()") == ("assets/c.js.map", b"{}")  # beside it, by name
    assert source_map_for(tmp_path, "assets/d.js", b"//# sourceMappingURL=../../outside.map") is None
