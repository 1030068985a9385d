"""Budgets: absolute (glob, type, initial, total, count) and growth (% and a byte floor), warn and error,
Lighthouse's budget.json, config errors, and the exit codes of `diff` and `build`."""

from __future__ import annotations

import json
import shutil
import tomllib

import pytest

from assetpipe import config
from assetpipe.model import ConfigError
from assetpipe.sizes.budgets import read_lighthouse, rules_from_config, unmatched

from .conftest import REPO, snapshot

SIZES = REPO / "tests" / "fixtures" / "sizes"
RENAMED = SIZES / "renamed"


def budgets_of(result) -> dict[str, dict]:
    return {b["name"]: b for b in json.loads(result.stdout)["budgets"]}


def diff(cli, tmp_path, toml: str, base=RENAMED / "base", head=RENAMED / "head", *extra: str):
    (tmp_path / "assetpipe.toml").write_text(toml)
    return cli("diff", str(base), str(head), *extra)


def test_absolute_budgets_per_glob_type_total_and_count(cli, tmp_path) -> None:
    result = diff(cli, tmp_path, """
[budgets]
"assets/app-*.js" = { warn = "90 B", error = "1 kB" }
js = { warn = "1 kB", error = "2 kB" }
total = { error = "100 B" }
count = { warn = 1, error = 5 }
""", RENAMED / "base", RENAMED / "head", "--format", "json")
    assert result.exit_code == 3  # total is over its error limit
    found = budgets_of(result)
    assert found["assets/app-*.js"] == {
        "name": "assets/app-*.js", "limit": 90, "actual": 96, "level": "warn", "unit": "bytes",
        "selector": "glob:assets/app-*.js", "warn": 90, "error": 1000, "file": "assets/app-Zz98Yy76.js"}
    assert (found["js"]["level"], found["js"]["actual"], found["js"]["limit"]) == ("ok", 129, 2000)
    assert (found["total"]["level"], found["total"]["actual"], found["total"]["limit"]) == ("error", 129, 100)
    assert (found["count"]["level"], found["count"]["actual"], found["count"]["unit"]) == ("warn", 2, "files")
    assert json.loads(result.stdout)["result"] == "fail"


def test_warnings_alone_exit_0_and_are_listed(cli, tmp_path) -> None:
    result = diff(cli, tmp_path, '[budgets]\ntotal = { warn = "100 B", error = "1 kB" }\n')
    assert result.exit_code == 0
    assert result.stdout.endswith("budgets:\n  warn  total  129 B  limit 100 B\n\nresult: warn\n")
    markdown = diff(cli, tmp_path, '[budgets]\ntotal = { warn = "100 B", error = "1 kB" }\n', RENAMED / "base",
                    RENAMED / "head", "--format", "markdown").stdout
    assert markdown.splitlines()[1] == "### Bundle size ⚠️"
    assert "| `total` | 100 B | 129 B | ⚠️ warn |" in markdown


def test_growth_needs_both_the_percentage_and_the_byte_floor(cli, tmp_path) -> None:
    # app grows by 44 B (+85 %); the total by 11 B (+9.3 %): a 51-byte Brotli of its 52 bytes is not kept.
    over_pct_under_floor = diff(cli, tmp_path, '[budgets]\ngrowth = { error = "5%", min_bytes = "20 B" }\n',
                                RENAMED / "base", RENAMED / "head", "--format", "json")
    assert over_pct_under_floor.exit_code == 0
    assert budgets_of(over_pct_under_floor)["growth"] | {} == {
        "name": "growth", "limit": 5, "actual": 9.32, "level": "ok", "unit": "%", "selector": "total",
        "warn": None, "error": 5, "min_bytes": 20, "delta_bytes": 11}
    over_both = diff(cli, tmp_path, '[budgets]\ngrowth = { warn = "5%", error = "50%", min_bytes = "10 B" }\n'
                     '"assets/*.js" = { error = "50%", min_bytes = "40 B" }\n', RENAMED / "base", RENAMED / "head",
                     "--format", "json")
    assert over_both.exit_code == 3
    found = budgets_of(over_both)
    assert found["growth"]["level"] == "warn"
    assert (found["assets/*.js"]["level"], found["assets/*.js"]["file"], found["assets/*.js"]["delta_bytes"]) == \
        ("error", "assets/app-Zz98Yy76.js", 44)


def test_growth_without_a_baseline_is_skipped(cli, tmp_path) -> None:
    result = diff(cli, tmp_path, '[budgets]\ngrowth = { error = "1%", min_bytes = 1 }\n', tmp_path / "none",
                  RENAMED / "head", "--format", "json")
    assert result.exit_code == 0
    assert budgets_of(result)["growth"]["level"] == "skipped"


def test_initial_js_budget_on_a_vite_build(cli, site, tmp_path) -> None:
    result = diff(cli, tmp_path, '[budgets]\ninitial = { warn = "10 kB", error = "15 kB" }\n', tmp_path / "none",
                  site, "--format", "json")
    found = budgets_of(result)["initial"]
    assert result.exit_code == 3 and found["level"] == "error" and found["actual"] > 15_000
    no_vite = diff(cli, tmp_path, '[budgets]\ninitial = { error = "15 kB" }\n', tmp_path / "none", RENAMED / "head")
    assert no_vite.exit_code == 2
    assert no_vite.stderr == (f"error: budgets.initial: {RENAMED / 'head'} has no Vite manifest "
                              "(.vite/manifest.json), so its initial JS is unknown\n")


def test_a_glob_that_matches_nothing_is_a_config_error(cli, tmp_path) -> None:
    result = diff(cli, tmp_path, '[budgets]\n"assets/*.mjs" = { error = "1 kB" }\ntotl = { error = "1 MB" }\n')
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"error: budgets.assets/*.mjs: matches no file in {RENAMED / 'head'}; "
                             "did you mean `assets/*.js`?\n"
                             f"error: budgets.totl: matches no file in {RENAMED / 'head'}; did you mean `total`?\n")


@pytest.mark.parametrize(("toml", "problem"), [
    ('total = { error = "2 mb" }', "budgets.total.error: unknown unit 'mb' in '2 mb'; did you mean `MB`?"),
    ('total = { error = "2 GB" }',
     "budgets.total.error: unknown unit 'GB' in '2 GB'; use one of B, kB, KiB, MB, MiB or %"),
    ('total = { warn = "10%", error = "2 MB", min_bytes = 1 }',
     "budgets.total: `warn` and `error` must both be sizes or both percentages of growth"),
    ('total = { error = "2 MB", min_bytes = "1 kB" }', "budgets.total: min_bytes applies only to growth limits in %"),
    ('count = { error = "200 kB" }', "budgets.count: a file count takes whole numbers, e.g. { error = 200 }"),
    ('growth = { error = "5 kB" }',
     'budgets.growth: growth takes percentages, e.g. { error = "10%", min_bytes = "1 kB" }; limit sizes with `total`'),
])
def test_budget_config_errors(toml: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.parse(tomllib.loads("[budgets]\n" + toml), "assetpipe.toml")
    assert info.value.problems == [f"assetpipe.toml: {problem}"]


def test_units() -> None:
    parsed = config.parse(tomllib.loads(
        '[budgets]\na = { error = "1.5 kB" }\nb = { error = "1 KiB" }\nc = { error = "1 MB" }\n'
        'd = { error = "1 MiB" }\ne = { error = 512 }\nf = { error = "512 B" }\n'), "x")
    assert [b.error.value for b in parsed.budgets] == [1500, 1024, 1_000_000, 1_048_576, 512, 512]


def test_lighthouse_budget_json(cli, tmp_path) -> None:
    rules, notices = read_lighthouse(SIZES / "lighthouse-budget.json")
    assert [(r.name, r.selector, r.measure, r.error) for r in rules] == [
        ("budget.json sizes script", "type:js", "size", 10 * 1024),
        ("budget.json sizes total", "total", "size", 1000 * 1024),
        ("budget.json counts total", "total", "count", 20),
    ]
    assert [n.message for n in notices] == ["[0].timings: not measured by a build; ignored",
                                           "[0].resourceSizes: 'third-party' is not measured by a build; ignored"]
    shutil.copy(SIZES / "lighthouse-budget.json", tmp_path / "budget.json")
    result = diff(cli, tmp_path, '[diff]\nlighthouse_budget = "budget.json"\n', RENAMED / "base", RENAMED / "head",
                  "--format", "json")
    assert result.exit_code == 0
    assert {b["name"]: b["level"] for b in json.loads(result.stdout)["budgets"]} == {
        "budget.json sizes script": "ok", "budget.json sizes total": "ok", "budget.json counts total": "ok"}
    assert "warning: budget.json: [0].timings: not measured by a build; ignored\n" in result.stderr
    (tmp_path / "budget.json").write_text("[{\"resourceSizes\": [{\"resourceType\": \"script\", \"budget\": \"x\"}]}]")
    broken = diff(cli, tmp_path, '[diff]\nlighthouse_budget = "budget.json"\n')
    assert broken.exit_code == 2
    assert broken.stderr == "error: budget.json: [0].resourceSizes.script: budget must be a number, got 'x'\n"


def test_build_judges_budgets_only_when_asked(cli, site, tmp_path) -> None:
    """`diff` owns the budgets' verdict (exit 3); `build` gives it only with --check-budgets, so a CI job's
    build step succeeds and its diff step writes the comment (docs/diff.md)."""
    (tmp_path / "assetpipe.toml").write_text('[budgets]\n"assets/*.js" = { warn = "5 kB", error = "100 kB" }\n')
    ok = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--check-budgets")
    assert ok.exit_code == 0, ok.stderr
    assert "budget warn: assets/*.js: 13.7 kB, limit 5.0 kB (assets/vendor-w039_3iX.js)\n" in ok.stderr
    (tmp_path / "assetpipe.toml").write_text('[budgets]\ntotal = { error = "100 kB" }\n')
    over = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--check-budgets")
    assert over.exit_code == 3
    assert over.stderr.splitlines()[-1].startswith("budget error: total: ")
    assert (site / ".assetpipe" / "manifest.json").is_file()  # the build itself is complete
    unasked = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "r.html"))
    assert unasked.exit_code == 0 and not [line for line in unasked.stderr.splitlines() if line.startswith("budget")]
    assert "budget" in (tmp_path / "r.html").read_text()  # the report still shows them
    assert cli("diff", str(tmp_path / "none"), str(site)).exit_code == 3


def test_globs_are_anchored_and_double_star_spans_folders() -> None:
    from assetpipe.globs import matches

    assert matches("assets/*.js", "assets/a.js") and not matches("assets/*.js", "assets/x/a.js")
    assert matches("**/*.map", "a.map") and matches("**/*.map", "assets/x/a.js.map")
    assert matches(".vite/**", ".vite/manifest.json") and not matches("*.js", "assets/a.js")
    assert matches("assets/[ab]-?.css", "assets/b-1.css") and not matches("assets/[!ab]-?.css", "assets/b-1.css")


def test_a_budget_that_matches_nothing_stops_build_before_it_writes(cli, site, tmp_path) -> None:
    """A typo in [budgets] is a config error (exit 2: nothing written), found by --dry-run too."""
    (tmp_path / "assetpipe.toml").write_text(
        '[budgets]\ntotl = { error = "1 MB" }\n"asset/*.js" = { error = "100 kB" }\ntotal = { error = "5 MB" }\n')
    before = snapshot(site)
    for extra in (("--dry-run",), ()):
        result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), *extra)
        assert result.exit_code == 2, extra
        assert result.stderr == (f"error: budgets.asset/*.js: matches no file in {site}; did you mean `assets/*.js`?\n"
                                 f"error: budgets.totl: matches no file in {site}; did you mean `total`?\n")
        assert snapshot(site) == before
    (tmp_path / "assetpipe.toml").write_text('[budgets]\ninitial = { error = "1 MB" }\n')
    (site / ".vite" / "manifest.json").unlink()
    no_vite = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"))
    assert no_vite.exit_code == 2
    assert no_vite.stderr == (f"error: budgets.initial: {site} has no Vite manifest (.vite/manifest.json), "
                              "so its initial JS is unknown\n")
    assert not (site / ".assetpipe").exists()


@pytest.mark.parametrize(("name", "hint"), [
    ("asset/*.js", "; did you mean `assets/*.js`?"),  # a folder name one letter off
    ("assets/*.jsx", "; did you mean `assets/*.js`?"),  # an extension that is not there
    ("**/*.mjs", "; did you mean `**/*.js`?"),
    ("img/deep/**", ""),  # nothing like it
    ("totl", "; did you mean `total`?"),
    ("cs", "; did you mean `css`?"),
])
def test_what_a_budget_that_matches_nothing_may_have_meant(name: str, hint: str) -> None:
    paths = ["index.html", "assets/app-Ab12Cd34.js", "assets/app-Ab12Cd34.css", "icons/a.svg", "icons/b.svg"]
    rules = rules_from_config(config.parse(tomllib.loads(f'[budgets]\n"{name}" = {{ error = 1 }}\n'), "x").budgets)
    assert unmatched(rules, paths, True, "dist") == [f"budgets.{name}: matches no file in dist{hint}"]
