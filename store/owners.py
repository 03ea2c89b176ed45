"""Who holds an outbox lease or an idempotency key, and whether that holder is known gone.

An owner id names the host, the process, this run of the program and the holder within it
(``host:pid:run:holder``). A holder on this host whose process no longer runs, or whose pid
is this very process under another run (a container restarted with the same pid), is gone:
what it held can be taken at once instead of when its lease or wait runs out. Holders on
other hosts are never judged gone here; their leases lapse as before.
"""

from __future__ import annotations

import os
import socket
import uuid

HOST = socket.gethostname()[:60]  # an owner id fits the 100 characters the store keeps
RUN = uuid.uuid4().hex[:12]


def new_owner() -> str:
    """A holder id of its own for this process (two apps in one process have two)."""
    return f"{HOST}:{os.getpid()}:{RUN}:{uuid.uuid4().hex[:8]}"


def this_process() -> str:
    """The holder id of whatever this process's requests hold (idempotency keys)."""
    return f"{HOST}:{os.getpid()}:{RUN}:-"


def is_gone(owner: str | None) -> bool:
    """Whether ``owner`` is a holder on this host that no longer runs."""
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) != 4:
        return False  # another form (an id from an older version): not judged
    host, pid_text, run, _holder = parts
    if host != HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return run != RUN  # this process, so that holder was an earlier run of it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    return False
