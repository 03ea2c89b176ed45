"""The lock files say what pyproject.toml asks for: every dependency pinned to one version that
its specifier allows, each file with its hash; the image's lock and the suite's agree. A
dependency added to pyproject without `make lock` fails here, not in a fresh clone's install.

No network: the locks are read as text."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.support import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
TEST_EXTRA = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]]


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: tuple[str, ...]


def read_lock(name: str) -> dict[str, Pin]:
    """The pins of a lock file written by `uv pip compile --generate-hashes`: ``name==version``,
    an optional environment marker, then its ``--hash=sha256:`` lines."""
    text = (ROOT / name).read_text()
    pins: dict[str, Pin] = {}
    for entry in re.split(r"\n(?=\S)", text):
        requirement = entry.split("\\\n", 1)[0].strip()
        if not requirement or requirement.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)(\s*;.*)?", requirement)
        assert match, f"{name}: not an exact pin: {requirement!r}"
        hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
        pins[canonicalize_name(match[1])] = Pin(Version(match[2]), hashes)
    return pins


LOCKS = {"requirements.lock": RUNTIME, "requirements-dev.lock": RUNTIME + TEST_EXTRA}


@pytest.mark.parametrize("lock", LOCKS)
def test_every_dependency_of_pyproject_is_pinned_in_the_lock_within_its_specifier(
    lock: str,
) -> None:
    pins = read_lock(lock)
    for requirement in LOCKS[lock]:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {lock}: run `make lock`"
        assert requirement.specifier.contains(pins[name].version, prereleases=True), (
            f"{lock} pins {name}=={pins[name].version}, pyproject asks {requirement}: "
            "run `make lock`"
        )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_carries_the_hashes_an_install_checks(lock: str) -> None:
    unhashed = [name for name, pin in read_lock(lock).items() if not pin.hashes]
    assert unhashed == []


def test_the_image_runs_the_versions_the_suite_ran() -> None:
    runtime, dev = read_lock("requirements.lock"), read_lock("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_image_lock_holds_no_test_tool() -> None:
    runtime = read_lock("requirements.lock")
    assert {canonicalize_name(r.name) for r in TEST_EXTRA} & set(runtime) == set()


def test_the_locks_say_how_they_were_made() -> None:
    for lock in LOCKS:
        assert "#    make lock\n" in (ROOT / lock).read_text()


def test_make_installs_from_the_dev_lock_with_hashes_required_and_a_pinned_uv() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^UV_VERSION := \d+\.\d+\.\d+$", makefile, re.M)
    assert re.search(r"pip sync .*--require-hashes.* requirements-dev\.lock", makefile)
    # The project itself goes in without dependencies: only the lock brings those.
    assert re.search(r"pip install .*--no-deps -e \.", makefile)
    # Reinstalled when the lock changes, as when pyproject does.
    assert re.search(r"^\$\(STAMP\): pyproject\.toml requirements-dev\.lock", makefile, re.M)
