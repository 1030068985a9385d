"""`assetpipe watch`: takes a folder and a BuildRequest, builds it once, then runs the same build again
after every burst of changes (debounced), until Ctrl-C; one line per run.

`watcher`: the Watcher (the loop, the quiet period, what counts as a change, Ctrl-C); `recorder`: the
watchdog handler that only records the paths events name; `runs`: the builder thread that runs every
build, and the Observer that reports each run. A run is build/'s pipeline on the whole folder: it is
incremental by construction, so it does the work of what changed.
"""
