"""The build (`assetpipe build`, and each run of `assetpipe watch`): takes a Config and a folder, returns
a BuildResult, having written the outputs, the manifest and the ledger into the folder (or --out).

`pipeline.build` is the one build, start to finish: `scan` (folder -> Inventory), `plan` (-> Plan: every
output named before any work), then the stages in order: images and the `<picture>` rewrite (`pictures`,
running images/ and html/), minify/, and precompression (`run`: the plan's jobs on a thread pool, with
compress/); `writer` is the one place that writes into the folder, `ledger` records what assetpipe wrote,
`manifest` is the contract every later command reads. `request` holds BuildRequest, `counts` the build's
tally and failure reporting.
"""
