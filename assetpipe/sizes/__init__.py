"""Sizes (`assetpipe diff`, and `build` with budgets or --report): takes two builds (BASE and HEAD: manifests
or built folders) and the config, returns a SizeReport: every file's raw, gzip and brotli size on both
sides, the SizeDiff between them, and each budget's level; rendered as a table, a PR comment, JSON or one
self-contained HTML page.

`check` runs it start to finish: `measure` reads one side into `Measured`, `diff` compares two, `budgets`
judges the limits; `formats` renders `--format text|markdown|json`, `treemap` the HTML page (with
`report_assets/`), `sourcemaps` each JS chunk's bytes by source file and npm package. `model` holds the
nouns they pass on. A library: it never prints and never exits.
"""
