"""Where the encodes run: the local pools (`images/encodepool`, `build/run`'s threads) or a Dask cluster.

Takes the tasks a stage submits (a function, its argument, a cost in megapixels) and returns their
outcomes as they finish, whichever executor runs them: `seam` (the TaskPool protocol, the executor's
name parsed, where a worker finds a task's input), `cluster` (connecting to or starting a Dask cluster,
and checking its workers' encoder versions), `daskpool` (a TaskPool over Dask futures), `testhooks`
(the one test-only fault, armed by a file). `distributed` is imported only when an executor asks for it.
"""
