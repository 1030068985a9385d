"""The one fault the tests inject into a Dask worker: the death of the worker in the middle of a task.

It fires only where a test set it up twice over: the worker's environment names an arm file in
`ASSETPIPE_TEST_KILL_WORKER_ARM`, and that file exists. The first task to rename it away (an atomic
rename: one task wins) ends its worker process at once, as a crash or the kernel's OOM killer would.
With neither, it does nothing: no user sets a variable of that name, and nothing of assetpipe's creates
the file.
"""

from __future__ import annotations

import os

ARM_VARIABLE = "ASSETPIPE_TEST_KILL_WORKER_ARM"


def maybe_die() -> None:
    arm = os.environ.get(ARM_VARIABLE)
    if not arm:
        return
    try:
        os.rename(arm, arm + ".fired")
    except OSError:  # not armed, or another task took it
        return
    os._exit(75)
