"""The image's Dockerfile, read statically (no container runtime runs here): two stages on a
pinned base, the dependencies from the hashed lock, a final stage with nothing but the venv,
run as a user that is not root, with a healthcheck, serving the production profile."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy.support import ROOT, Stage, dockerfile_stages, setting_of
from tests.support import needs

STAGES = dockerfile_stages(ROOT / "Dockerfile")
BUILDER, FINAL = STAGES[0], STAGES[-1]
PINNED = re.compile(r"^[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = ("gcc", "g++", "clang", "build-essential", "make ", "cmake", "-dev ", "cargo")


def test_the_image_is_built_in_stages_on_a_base_pinned_by_its_exact_version() -> None:
    assert len(STAGES) >= 2
    for stage in STAGES:
        assert PINNED.match(stage.base), f"{stage.base}: not pinned by an exact version"
        assert "latest" not in stage.base


def test_the_base_runs_the_python_the_locks_were_resolved_for() -> None:
    lock_python = re.search(r"--python-version (3\.\d+)", (ROOT / "Makefile").read_text())
    assert lock_python is not None
    for stage in STAGES:
        assert stage.base.startswith(f"python:{lock_python[1]}."), stage.base


def test_the_dependencies_are_installed_from_the_runtime_lock_with_their_hashes() -> None:
    installs = [args for args in BUILDER.args_of("RUN") if "-r /tmp/requirements.lock" in args]
    assert installs, "no install from requirements.lock"
    assert all("--require-hashes" in args and "--no-deps" in args for args in installs)
    assert any("requirements.lock" in args for args in BUILDER.args_of("COPY"))
    assert "requirements-dev.lock" not in BUILDER.text  # no test tools in the image


def test_the_project_is_installed_without_dependencies_of_its_own() -> None:
    project = [args for args in BUILDER.args_of("RUN") if "ordergate-" in args]
    assert project and all("--no-deps" in args for args in project)


def test_every_package_of_the_project_is_copied_into_the_build() -> None:
    """pyproject's packages are what the wheel holds: one not copied would be missing from
    the image and fail only there (``feed`` once was)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    copied = {args.split()[0] for args in BUILDER.args_of("COPY")}
    assert set(packages) <= copied


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_else() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"  # an allow-list: .git, .venv, tests, .env and databases stay out

    def included(path: str) -> bool:
        keep = True
        for rule in rules:
            pattern = rule.removeprefix("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                keep = rule.startswith("!")
        return keep

    sources = [
        word
        for stage in STAGES
        for args in stage.args_of("COPY")
        if not args.startswith("--from")
        for word in args.split()[:-1]
    ]
    assert sources and all(included(source) for source in sources), sources
    for private in (".git", ".venv", ".env", "tests", "ordergate.db", "deploy"):
        assert not included(private), private


def test_the_final_stage_has_the_venv_and_no_build_tools() -> None:
    assert FINAL.args_of("COPY") == [f"--from={BUILDER.name} /opt/ordergate /opt/ordergate"], (
        "the final stage takes the venv alone"
    )
    text = FINAL.text.lower()
    assert [tool for tool in BUILD_TOOLS if tool in text] == []
    assert "pip install" not in text and "uv " not in text
    assert "apt-get install" not in text


def test_the_final_stage_runs_as_a_user_that_is_not_root() -> None:
    [user] = FINAL.args_of("USER")
    uid = user.split(":")[0]
    assert uid not in ("root", "0")
    assert uid.isdigit()  # numeric: a cluster's runAsNonRoot can check it
    assert f"--uid {uid}" in FINAL.text


def test_the_image_checks_its_own_health_with_python() -> None:
    [healthcheck] = FINAL.args_of("HEALTHCHECK")
    assert "CMD python -c" in healthcheck and "/health" in healthcheck
    assert FINAL.args_of("EXPOSE") == ["8000"]


def test_the_image_serves_the_production_profile_on_every_interface() -> None:
    env = FINAL.env
    assert env["ORDERGATE_PROFILE"] == "production"
    assert env["ORDERGATE_HOST"] == "0.0.0.0"
    assert FINAL.args_of("CMD") == ['["ordergate", "run"]']


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name or "final")
def test_every_ordergate_variable_of_the_image_is_a_real_setting(stage: Stage) -> None:
    for variable in stage.env:
        if variable.startswith("ORDERGATE_"):
            setting_of(variable)


@pytest.mark.slow
def test_the_wheel_the_image_installs_holds_every_file_its_packages_track(
    tmp_path: Path,
) -> None:
    """The image installs the project's wheel: every file git tracks under its packages
    (code, migrations, GraphiQL's files, the example queries) must be in it. Built from a
    clean copy of the tracked files: a checkout's leftover ``build/`` hides what is missing."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        needs("building the wheel needs uv (`make install` puts it in .venv)")
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = [pattern.rstrip("*") for pattern in include]
    tracked = subprocess.run(
        ["git", "ls-files", "pyproject.toml", "README.md", *packages],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    source = tmp_path / "source"
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [uv, "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("ordergate-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        held = set(archive.namelist())
    missing = [name for name in tracked if "/" in name and name not in held]
    assert missing == []
