"""Which holder of a lease or a key is known gone: only one on this host whose process no
longer runs, or this very pid under an earlier run (a restarted container)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from store import owners


def finished_pid() -> int:
    """The pid of a process that has run and ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


CASES = [
    ("nobody", lambda: None, False),
    ("empty", lambda: "", False),
    ("this holder", owners.new_owner, False),
    ("this process", owners.this_process, False),
    ("an older form", lambda: "gateway-0123456789ab", False),
    ("a pid that is no number", lambda: f"{owners.HOST}:x:{owners.RUN}:h", False),
    ("another host", lambda: f"elsewhere:{finished_pid()}:{owners.RUN}:h", False),
    ("a live process", lambda: f"{owners.HOST}:{os.getppid()}:0a0a0a0a0a0a:h", False),
    ("an ended process", lambda: f"{owners.HOST}:{finished_pid()}:0a0a0a0a0a0a:h", True),
    ("this pid, an earlier run", lambda: f"{owners.HOST}:{os.getpid()}:0a0a0a0a0a0a:h", True),
]


@pytest.mark.parametrize(("case", "owner", "gone"), CASES, ids=[c for c, *_ in CASES])
def test_a_holder_is_gone_only_when_this_host_knows_it(
    case: str, owner: Callable[[], str | None], gone: bool
) -> None:
    assert owners.is_gone(owner()) is gone


def test_holders_in_one_process_are_told_apart_and_fit_the_store() -> None:
    first, second = owners.new_owner(), owners.new_owner()
    assert first != second
    assert len(first) <= 100 and len(owners.this_process()) <= 100
