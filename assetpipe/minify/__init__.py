"""Minification (opt-in `[minify]`, `--minify`): takes the build's HTML, CSS, JS, SVG and JSON files,
returns for each the minified bytes worth keeping (at least 2 % smaller), or the reason it is left alone.

`minifier`: the pure bytes-to-bytes minifiers (tdewolff-minify, with its safety settings) and the rules
that decide which files are minified and which results are kept; `esmodule`: the renaming of an ES
module's top-level names, which the library does not do by itself; `stage`: the build's step, each
decision cached by content. Nothing here writes into the build folder: build/ does, through its writer.
"""
