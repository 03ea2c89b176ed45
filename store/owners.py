"""Who holds an outbox lease or an idempotency key, and whether that holder is known gone.

An owner id names the host, the kernel and PID namespace it runs in, the process (its pid and
start time) and the holder within it: ``host:space:pid:start:holder``. A holder is judged
gone only when it shares this process's namespace (same kernel boot, same PID namespace;
``space``), and its pid no longer runs or now belongs to a process started at another time
(the pid was reused): what it held can then be taken at once instead of when its lease or
wait runs out. Anything else (another host, another container, even one with the same
hostname and pid 1, a system without ``/proc``) is never judged gone here: its leases lapse.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import uuid
from pathlib import Path

HOST = socket.gethostname()[:40]  # an owner id fits the 100 characters the store keeps
PROC = Path("/proc")


def _namespace() -> str | None:
    """This kernel boot and PID namespace, hashed short; None where /proc cannot say (none,
    or one mounted from another PID namespace: its pids are not this process's)."""
    try:
        if os.readlink(PROC / "self") != str(os.getpid()):
            return None
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        space = os.stat(PROC / "self/ns/pid").st_ino
    except OSError:
        return None
    return hashlib.sha256(f"{boot}/{space}".encode()).hexdigest()[:12]


def started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot); None if no such process runs."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    # Field 22, counted after the command name, which may itself hold spaces and parentheses.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


SPACE = _namespace()


@functools.cache
def _process_of(pid: int) -> str:
    start = started(pid) if SPACE is not None else None
    return f"{HOST}:{SPACE or '-'}:{pid}:{start or '-'}"


def _process() -> str:
    return _process_of(os.getpid())  # at call time: a forked worker is a process of its own


def new_owner() -> str:
    """A holder id of its own for this process (two apps in one process have two)."""
    return f"{_process()}:{uuid.uuid4().hex[:8]}"


def this_process() -> str:
    """The holder id of whatever this process's requests hold (idempotency keys)."""
    return f"{_process()}:-"


def is_gone(owner: str | None) -> bool:
    """Whether ``owner`` is a holder in this PID namespace whose process no longer runs."""
    if not owner or SPACE is None:
        return False
    parts = owner.split(":")
    if len(parts) != 5:
        return False  # another form (an id from an older version): not judged
    _host, space, pid_text, start, _holder = parts
    if space != SPACE or not pid_text.isdigit() or len(pid_text) > 9 or start == "-":
        return False
    return started(int(pid_text)) != start
