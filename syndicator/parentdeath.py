"""Child processes that end with their parent: the parser pool's fork server and workers.

When the daemon is killed outright (SIGKILL, the OOM killer), nothing runs in it to stop its
parser processes, and they would live on under init, holding a hundred megabytes each. On
Linux the kernel can send a signal to a process when its parent dies (prctl
PR_SET_PDEATHSIG): the fork server asks for SIGTERM when the daemon dies (in its preload,
`tagging.preload`), and each worker when the fork server dies (in its initializer). Never
called in the daemon itself, which must outlive the shell that started it. Elsewhere than on
Linux it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask for SIGTERM when the parent process dies (Linux); exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)
