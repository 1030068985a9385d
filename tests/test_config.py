"""Config: discovery, validation of the whole file at once, verbatim messages, docs kept in step."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from assetpipe import config
from assetpipe.config import Config, describe, toml_value
from assetpipe.model import ConfigError
from assetpipe.units import Limit, parse_limit

from .conftest import REPO, snapshot


def errors_for(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.parse(tomllib.loads(text), "assetpipe.toml")
    return info.value.problems


def test_every_problem_is_reported_at_once_with_the_fix() -> None:
    problems = errors_for(
        '[compress]\nformts = ["br"]\nmin_ratio = 1.5\ngzip = "zopfly"\nsource_maps = "yes"\n'
        '[images]\nwidths = [320, 320]\nquality = { avif = 0, webq = 80 }\nbackground = "white"\n'
        '[imgaes]\n'
    )
    assert problems == [
        "assetpipe.toml: imgaes: unknown section; did you mean `images`?",
        'assetpipe.toml: images.widths: lists 320 twice',
        'assetpipe.toml: images.background: expected a colour such as "#ffffff", got \'white\'',
        "assetpipe.toml: images.quality.webq: unknown key; did you mean `webp`?",
        "assetpipe.toml: images.quality.avif: must be between 1 and 100, got 0",
        "assetpipe.toml: compress.formts: unknown key; did you mean `formats`?",
        "assetpipe.toml: compress.min_ratio: must be greater than 0 and at most 1, got 1.5",
        "assetpipe.toml: compress.source_maps: expected true or false, got 'yes'",
        'assetpipe.toml: compress.gzip: must be one of "zlib", "zopfli", got \'zopfly\'; did you mean `zopfli`?',
    ]


def test_wrong_types_and_unknown_formats() -> None:
    assert errors_for('[compress]\nformats = "br"\n') == ["assetpipe.toml: compress.formats: expected a list, got 'br'"]
    assert errors_for('[compress]\nformats = ["br", "lzma"]\n') == [
        'assetpipe.toml: compress.formats: must be one of "br", "gzip", "zstd", got \'lzma\''
    ]
    assert errors_for("compress = 3\n") == ["assetpipe.toml: compress: expected a table ([compress]), got 3"]
    assert errors_for("[images]\nmax_pixels = 0\n") == [
        "assetpipe.toml: images.max_pixels: must be between 1 and 1_099_511_627_776, got 0"
    ]


def test_budgets_are_checked_for_units_and_floors() -> None:
    problems = errors_for(
        '[budgets]\n"assets/*.js" = { error = "150 KB" }\ngrowth = { error = "10%" }\ntotal = { eror = "2 MB" }\n'
    )
    assert problems == [
        "assetpipe.toml: budgets.assets/*.js.error: unknown unit 'KB' in '150 KB'; did you mean `kB`?",
        'assetpipe.toml: budgets.growth: a growth limit in % also needs a byte floor, e.g. min_bytes = "1 kB"',
        "assetpipe.toml: budgets.total.eror: unknown key; did you mean `error`?",
        "assetpipe.toml: budgets.total: needs `warn`, `error` or both",
    ]
    good = config.parse(tomllib.loads('[budgets]\ntotal = { warn = "1.5 MiB", error = "2 MB" }\n'), "x")
    assert good.budgets[0].warn == Limit(1.5 * 1024 * 1024) and good.budgets[0].error == Limit(2_000_000)


def test_size_units() -> None:
    assert parse_limit("150 kB") == Limit(150_000)
    assert parse_limit("150KiB") == Limit(153_600)
    assert parse_limit("10%") == Limit(10, percent=True)
    assert parse_limit(512) == Limit(512)
    with pytest.raises(ValueError, match="expected a size"):
        parse_limit("lots")


def test_cli_reports_config_errors_and_writes_nothing(cli, site, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text("[compress]\nmin_ratio = 2\n")
    before = snapshot(site)
    result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"))
    assert result.exit_code == 2
    assert result.stderr == "error: assetpipe.toml: compress.min_ratio: must be greater than 0 and at most 1, got 2\n"
    assert snapshot(site) == before and not (tmp_path / "cache").exists()


def test_malformed_toml_names_the_file_and_line(cli, site, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text('[compress]\nformats = ["br"]\nmin_ratio 0.9\n')
    result = cli("build", str(site))
    assert result.exit_code == 2
    assert re.fullmatch(r"error: assetpipe\.toml: invalid TOML: .*\(at line 3, column \d+\)\n", result.stderr)


def test_pyproject_table_is_found_and_checked(cli, site, tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.assetpipe.compress]\nformats = ["gzip"]\n')
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "c")).exit_code == 0
    assert not list(site.rglob("*.br")) and list(site.rglob("*.gz"))
    (tmp_path / "pyproject.toml").write_text('[tool.assetpipe.compress]\nformat = ["gzip"]\n')
    result = cli("build", str(site))
    assert result.stderr == ("error: pyproject.toml [tool.assetpipe]: compress.format: unknown key; "
                             "did you mean `formats`?\n")


def test_explicit_config_path_wins_and_a_missing_one_is_an_error(cli, site, tmp_path) -> None:
    (tmp_path / "assetpipe.toml").write_text('[compress]\nformats = ["gzip"]\n')
    other = tmp_path / "other.toml"
    other.write_text('[compress]\nformats = ["br"]\n')
    assert cli("build", str(site), "--config", str(other), "--cache-dir", str(tmp_path / "c")).exit_code == 0
    assert list(site.rglob("*.br")) and not list(site.rglob("*.gz"))
    result = cli("build", str(site), "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'nope.toml'}: no such config file\n"


def test_shipped_config_file_lists_every_key_with_its_default() -> None:
    text = (REPO / "config" / "assetpipe.toml").read_text()
    assert config.parse(tomllib.loads(text), "config/assetpipe.toml") == Config()
    shipped: list[str] = []
    section = ""
    for line in text.splitlines():
        if m := re.match(r"^\[([\w.]+)\]", line):
            section = m[1]
        elif m := re.match(r"^(\w+) = (.+)$", line):
            shipped.append(f"{section}.{m[1]} = {m[2]}")
    assert shipped == [f"{d.key} = {toml_value(d.default)}" for d in describe()]


def test_docs_config_table_matches_the_code() -> None:
    rows = re.findall(r"^\| `([\w.]+)` \| `(.+?)` \| (.+?) \|$", (REPO / "docs" / "config.md").read_text(), re.M)
    assert [(k, v, r) for k, v, r in rows] == [(d.key, toml_value(d.default), d.reason) for d in describe()]


def test_every_key_has_a_reason() -> None:
    for doc in describe():
        assert len(doc.reason) > 20, doc.key


def test_load_discovers_in_order(tmp_path: Path) -> None:
    assert config.load(None, tmp_path).source is None
    (tmp_path / "pyproject.toml").write_text('[tool.assetpipe.html]\nrewrite = false\n')
    assert config.load(None, tmp_path).config.html.rewrite is False
    (tmp_path / "assetpipe.toml").write_text("[html]\nrewrite = true\n")
    loaded = config.load(None, tmp_path)
    assert loaded.source == "assetpipe.toml" and loaded.config.html.rewrite is True


@pytest.mark.parametrize("text", ["[tool]\nassetpipe = 3\n", "[tool]\nassetpipe = [1, 2]\n"])
def test_a_pyproject_entry_that_is_not_a_table_is_one_line(cli, site, tmp_path, text) -> None:
    """`[tool] assetpipe = 3` ended in a TypeError traceback (issue 22, item 7)."""
    (tmp_path / "pyproject.toml").write_text(text)
    before = snapshot(site)
    result = cli("build", str(site))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: pyproject.toml") and "Traceback" not in result.stderr, lines
    assert snapshot(site) == before
