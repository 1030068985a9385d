"""The two faults the tests inject into a Dask worker: the death of the worker in the middle of a task,
and a task that does not end (a stuck encoder).

Each fires only where a test set it up twice over: the worker's environment names an arm file
(`ASSETPIPE_TEST_KILL_WORKER_ARM`, `ASSETPIPE_TEST_STALL_WORKER_ARM`), and that file exists. The first
task to rename it away (an atomic rename: one task wins) ends its worker process at once, as a crash or
the kernel's OOM killer would, or sleeps for STALL_SECONDS before its work. With neither, they do nothing:
no user sets a variable of those names, and nothing of assetpipe's creates the files.
"""

from __future__ import annotations

import os
import time

ARM_VARIABLE = "ASSETPIPE_TEST_KILL_WORKER_ARM"
STALL_VARIABLE = "ASSETPIPE_TEST_STALL_WORKER_ARM"
STALL_SECONDS = 120.0


def _fired(variable: str) -> bool:
    arm = os.environ.get(variable)
    if not arm:
        return False
    try:
        os.rename(arm, arm + ".fired")
    except OSError:  # not armed, or another task took it
        return False
    return True


def maybe_die() -> None:
    if _fired(ARM_VARIABLE):
        os._exit(75)


def maybe_stall() -> None:
    if _fired(STALL_VARIABLE):
        time.sleep(STALL_SECONDS)
