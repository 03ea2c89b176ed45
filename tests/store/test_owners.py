"""Which holder of a lease or a key is known gone: only one in this very PID namespace (same
kernel boot, same namespace) whose process no longer runs, or whose pid now belongs to a
process started at another time. A replica elsewhere is never judged gone, even one with
the same hostname and the same pid (containers on one host network, each its own pid 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from store import owners

pytestmark = pytest.mark.skipif(owners.SPACE is None, reason="needs /proc (Linux)")


def finished_pid() -> int:
    """The pid of a process that has run and ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def here(pid: int, start: str | None) -> str:
    return f"{owners.HOST}:{owners.SPACE}:{pid}:{start}:h"


ME = os.getpid()
PARENT = os.getppid()
CASES = [
    ("nobody", lambda: None, False),
    ("empty", lambda: "", False),
    ("this holder", owners.new_owner, False),
    ("this process", owners.this_process, False),
    ("an older form", lambda: f"{owners.HOST}:{finished_pid()}:0a0a0a0a0a0a:h", False),
    ("a pid that is no number", lambda: f"{owners.HOST}:{owners.SPACE}:x:1:h", False),
    ("a pid past any real one", lambda: here(10**12, "1"), False),
    ("a start time nobody could read", lambda: here(finished_pid(), "-"), False),
    # Same hostname, same pid, same start ticks, but another kernel or PID namespace.
    ("another namespace", lambda: f"{owners.HOST}:0a0a0a0a0a0a:{ME}:{owners.started(ME)}:h", False),
    ("another namespace, ended pid", lambda: f"x:0a0a0a0a0a0a:{finished_pid()}:1:h", False),
    ("a live process", lambda: here(PARENT, owners.started(PARENT)), False),
    ("an ended process", lambda: here(finished_pid(), "1"), True),
    ("this pid, started at another time", lambda: here(ME, "1"), True),
    ("a live pid, started at another time", lambda: here(PARENT, "1"), True),
]


@pytest.mark.parametrize(("case", "owner", "gone"), CASES, ids=[c for c, *_ in CASES])
def test_a_holder_is_gone_only_when_this_namespace_knows_it(
    case: str, owner: Callable[[], str | None], gone: bool
) -> None:
    assert owners.is_gone(owner()) is gone


def test_holders_in_one_process_are_told_apart_and_fit_the_store() -> None:
    first, second = owners.new_owner(), owners.new_owner()
    assert first != second
    assert len(first) <= 100 and len(owners.this_process()) <= 100


def test_a_start_time_is_read_past_a_command_name_with_spaces_and_parentheses(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = ["S", *map(str, range(4, 22)), "987654", "0"]  # field 3 on; field 22 is 987654
    (tmp_path / "42").mkdir()  # type: ignore[operator]
    (tmp_path / "42" / "stat").write_text(f"42 (a (b) c) {' '.join(fields)}\n")  # type: ignore[operator]
    monkeypatch.setattr(owners, "PROC", tmp_path)
    assert owners.started(42) == "987654"
    assert owners.started(43) is None
    (tmp_path / "44").mkdir()  # type: ignore[operator]
    (tmp_path / "44" / "stat").write_text("44 (cut short) S 1 2")  # type: ignore[operator]
    assert owners.started(44) is None
