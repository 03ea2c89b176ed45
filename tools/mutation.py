"""Mutation testing of the core rules: which change to a rule would no test notice?

    python tools/mutation.py         # both kinds below, every module (`make mutation`)
    python tools/mutation.py code  [--module PATH]... [--tests PATH]... [--scratch DIR]
    python tools/mutation.py tables [--table MODULE:NAME]...

- ``code``: mutmut (``[tool.mutmut]`` in pyproject.toml) mutates the code inside the functions
  of the rule modules, each group of ``GROUPS`` against the tests that pin it, in a scratch
  copy of the work tree per group (``.mutation/<group>``; mutmut's cache there makes a
  second run quick). ``--module``/``--tests`` run one ad-hoc group instead.
- ``tables``: mutmut never touches module-level values, so the rule tables in ``TABLES`` are
  mutated here, one entry at a time (an edge of the state machine added or removed, a status
  mapped to another, a row of the HTTP policy given another action or removed), each mutant
  run against the tests that pin its table (``tools/table_mutant.py`` applies it).

A module's score is killed / (mutants run - those allowed in ``tools/equivalent_mutants.toml``,
each with the reason no test can tell it apart); every module must reach ``THRESHOLD``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import table_mutant  # noqa: E402

THRESHOLD = 0.90
ALLOWED = ROOT / "tools" / "equivalent_mutants.toml"
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
COUNTED = KILLED | {"survived", "no tests", "suspicious"}


@dataclass(frozen=True)
class Table:
    module: str
    name: str
    tests: tuple[str, ...]
    replace: str = "next"  # "next": each entry changed to the next value; "all": to every other


BACKEND_TESTS = (
    "tests/backends/test_{}_adapter.py",
    "tests/backends/test_{}_writes.py",
    "tests/backends/test_{}_mapping.py",
)


def _backend(name: str) -> tuple[str, ...]:
    return (
        *(path.format(name) for path in BACKEND_TESTS),
        "tests/backends/test_adapter_contract.py",
    )


TABLES = [
    Table(
        "domain.transitions",
        "TRANSITIONS",
        ("tests/domain/test_transitions.py", "tests/resolvers/test_state_machine.py"),
    ),
    Table("backends.http", "STATUS_POLICY", ("tests/backends/test_http.py",), replace="all"),
    Table("backends.affiliate.adapter", "STATUS_MAP", _backend("affiliate")),
    Table("backends.affiliate.adapter", "UPSTREAM_STATUS", _backend("affiliate")),
    Table("backends.affiliate.adapter", "PAYMENT_STATUS_MAP", _backend("affiliate")),
    Table("backends.webshop.adapter", "STATUS_TABLE", _backend("webshop")),
    Table("backends.webshop.adapter", "STATE_FOR_STATUS", _backend("webshop")),
    Table("backends.webshop.adapter", "PAYMENT_TABLE", _backend("webshop")),
    Table("backends.crm.adapter", "STATUS_BY_NAME", _backend("crm")),
    Table("backends.crm.adapter", "PAYMENT_STATUS", _backend("crm")),
    Table("backends.b2b.adapter", "STATUS_TABLE", _backend("b2b")),
    Table("backends.b2b.adapter", "STATUS_UPDATES", _backend("b2b")),
]


@dataclass(frozen=True)
class Group:
    """Rule modules mutated together, and the tests that pin them."""

    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS = [
    Group("domain", ("domain/",), ("tests/domain", "tests/resolvers", "tests/store")),
    Group("store", ("store/outbox.py", "store/idempotency.py"), ("tests/store",)),
    Group(
        "paging",
        ("resolvers/pagination.py",),
        ("tests/resolvers/test_pagination.py", "tests/resolvers/test_orders_query.py"),
    ),
    Group(
        "http",
        ("backends/http.py", "backends/affiliate/commission.py"),
        (
            "tests/backends/test_http.py",
            "tests/backends/test_commission.py",
            "tests/backends/test_affiliate_adapter.py",
        ),
    ),
]


@dataclass(frozen=True)
class Mutant:
    name: str  # e.g. "domain.transitions:TRANSITIONS[PENDING] +DISPATCHED"
    spec: dict[str, Any]


def table_mutants(table: Table) -> Iterator[Mutant]:
    value = getattr(importlib.import_module(table.module), table.name)
    base = {"module": table.module, "name": table.name}
    label = f"{table.module}:{table.name}"
    if isinstance(value, dict) and all(isinstance(v, frozenset | set) for v in value.values()):
        members = table_mutant.set_domain(value)
        for k, key in enumerate(value):
            for m, member in enumerate(members):
                sign = "-" if member in value[key] else "+"
                yield Mutant(
                    f"{label}[{table_mutant.describe(key)}] {sign}{table_mutant.describe(member)}",
                    {**base, "op": "toggle", "path": [k], "member": m},
                )
        return
    domain = table_mutant.value_domain(value)
    for path, current in _indexed_leaves(value):
        where = "".join(f"[{table_mutant.describe(step)}]" for step in path[1])
        yield Mutant(f"{label}{where} deleted", {**base, "op": "delete", "path": path[0]})
        at = domain.index(current)
        others = [i for i in range(len(domain)) if i != at]
        if table.replace == "next":
            others = [(at + 1) % len(domain)] if len(domain) > 1 else []
        for i in others:
            yield Mutant(
                f"{label}{where} = {table_mutant.describe(domain[i])}",
                {**base, "op": "replace", "path": path[0], "value": i},
            )


def _indexed_leaves(value: Any, path: tuple[int, ...] = (), keys: tuple[Any, ...] = ()) -> Any:
    if isinstance(value, dict):
        for index, (key, item) in enumerate(value.items()):
            yield from _indexed_leaves(item, (*path, index), (*keys, key))
    elif isinstance(value, list):
        for index, row in enumerate(value):
            yield ((*path, index), (*keys, row[0])), row[-1]
    else:
        yield (list(path), keys), value


def pytest_command(tests: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            "-p", "table_mutant", "-o", "addopts=", *tests]  # fmt: skip


def run_tests(tests: Sequence[str], mutant: Mutant | None) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tools"), str(ROOT)])}
    env.pop("ORDERGATE_TEST_DATABASE_URL", None)  # SQLite: each run its own temporary store
    if mutant is not None:
        env[table_mutant.ENV] = json.dumps(mutant.spec)
    result = subprocess.run(pytest_command(tests), cwd=ROOT, env=env, capture_output=True)
    return result.returncode


def run_tables(names: Sequence[str], jobs: int) -> dict[str, dict[str, str]]:
    """{table: {mutant: killed | survived}}; a table whose tests fail unmutated is an error."""
    chosen = [t for t in TABLES if not names or f"{t.module}:{t.name}" in names]
    results: dict[str, dict[str, str]] = {}
    for table in chosen:
        label = f"{table.module}:{table.name}"
        missing = [path for path in table.tests if not (ROOT / path).exists()]
        if missing:
            sys.exit(f"{label}: no such test file {missing}")
        if run_tests(table.tests, None) != 0:
            sys.exit(f"{label}: its tests fail without any mutant; fix them first")
        mutants = list(table_mutants(table))
        print(f"{label}: {len(mutants)} mutants", flush=True)
        with ThreadPoolExecutor(jobs) as pool:
            codes = list(pool.map(run_tests, [table.tests] * len(mutants), mutants))
        outcome: dict[str, str] = {}
        for mutant, code in zip(mutants, codes, strict=True):
            if code == 3:
                sys.exit(f"{mutant.name}: the mutant was not applied (import hook)")
            outcome[mutant.name] = "survived" if code == 0 else "killed"
        results[label] = outcome
    return results


def scratch_copy(scratch: Path) -> None:
    """The work tree as it is now (tracked and new files; every file outside a git checkout)
    into ``scratch``; mutmut's own ``mutants/`` cache there is kept."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=False,
    )  # fmt: skip
    if listing.returncode == 0:
        names = [n for n in listing.stdout.decode().split("\0") if n]
    else:  # an exported tree (git archive): everything but caches and environments
        skip = {".venv", ".mutation", "mutants", "__pycache__", "node_modules", ".git"}
        names = [
            str(path.relative_to(ROOT))
            for path in ROOT.rglob("*")
            if path.is_file() and not skip & set(path.relative_to(ROOT).parts)
        ]
    scratch.mkdir(parents=True, exist_ok=True)
    for name in names:
        source, target = ROOT / name, scratch / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def configure(scratch: Path, modules: Sequence[str], tests: Sequence[str]) -> None:
    pyproject = scratch / "pyproject.toml"
    text = pyproject.read_text()
    if modules:
        text = re.sub(r"source_paths = \[.*?\]", f"source_paths = {json.dumps(list(modules))}",
                      text, flags=re.S)  # fmt: skip
    if tests:
        text = text.replace(
            "[tool.mutmut]\n",
            f"[tool.mutmut]\npytest_add_cli_args_test_selection = {json.dumps(list(tests))}\n",
        )
    pyproject.write_text(text)


def run_code(
    modules: Sequence[str], tests: Sequence[str], scratch: Path, children: int
) -> dict[str, dict[str, str]]:
    """{module: {mutant: status}} from mutmut, run in ``scratch``."""
    scratch_copy(scratch)
    configure(scratch, modules, tests)
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    env = {k: v for k, v in os.environ.items() if k != "ORDERGATE_TEST_DATABASE_URL"}
    subprocess.run([mutmut, "run", "--max-children", str(children)], cwd=scratch, env=env,
                   stdout=subprocess.DEVNULL, check=False)  # fmt: skip
    listing = subprocess.run([mutmut, "results", "--all", "true"], cwd=scratch, env=env,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    wanted = [m.removesuffix(".py").rstrip("/").replace("/", ".") for m in modules]
    results: dict[str, dict[str, str]] = defaultdict(dict)
    for line in listing.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if not name:
            continue
        module = name.split(".x_")[0].split(".xǁ")[0]
        if wanted and not any(module == w or module.startswith(w + ".") for w in wanted):
            continue
        results[module][name] = status
    return dict(results)


def allowed() -> dict[str, str]:
    if not ALLOWED.exists():
        return {}
    return {name: str(why) for name, why in tomllib.loads(ALLOWED.read_text()).items()}


def report(results: dict[str, dict[str, str]], scratches: dict[str, Path]) -> bool:
    """Print each module's score and its survivors; True when every module reaches the bar."""
    allow = allowed()
    ok = True
    print(f"\n{'module / table':<58} {'killed':>7} {'run':>5} {'allowed':>8} {'score':>6}")
    for module, outcomes in sorted(results.items()):
        counts = Counter(status for status in outcomes.values() if status in COUNTED)
        run = sum(counts.values())
        killed = sum(n for status, n in counts.items() if status in KILLED)
        excused = sum(
            1 for n, s in outcomes.items() if s not in KILLED and s in COUNTED and n in allow
        )
        denominator = run - excused
        score = killed / denominator if denominator else 1.0
        ok &= score >= THRESHOLD
        print(f"{module:<58} {killed:>7} {run:>5} {excused:>8} {score:>6.0%}")
    for module, outcomes in sorted(results.items()):
        for name, status in outcomes.items():
            if status in COUNTED and status not in KILLED and name not in allow:
                print(f"\n--- {status}: {name}")
                if module in scratches:
                    mutmut = str(Path(sys.executable).with_name("mutmut"))
                    subprocess.run([mutmut, "show", name], cwd=scratches[module], check=False)
    print(f"\n{'every module reaches' if ok else 'NOT every module reaches'} {THRESHOLD:.0%}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="kind")
    code = sub.add_parser("code", help="mutmut over the code of the rule modules")
    code.add_argument(
        "--module", action="append", default=[], help="a source path (default: pyproject's)"
    )
    code.add_argument("--tests", action="append", default=[], help="a test path (default: all)")
    tables = sub.add_parser("tables", help="one-entry mutants of the rule tables")
    tables.add_argument("--table", action="append", default=[], help="MODULE:NAME (default: all)")
    parser.add_argument("--scratch", type=Path, default=ROOT / ".mutation")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once")
    for each in (code, tables):  # also after the subcommand; unset there, the main one holds
        each.add_argument("--scratch", type=Path, default=argparse.SUPPRESS)
        each.add_argument("--jobs", type=int, default=argparse.SUPPRESS, help="mutants at once")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, str]] = {}
    scratches: dict[str, Path] = {}  # where each module's mutants can be shown
    if args.kind in (None, "code"):
        modules, tests = getattr(args, "module", []), getattr(args, "tests", [])
        groups = [Group("adhoc", tuple(modules), tuple(tests))] if modules else GROUPS
        for group in groups:
            scratch = args.scratch if modules else args.scratch / group.name
            print(f"{group.name}: mutmut over {', '.join(group.modules)}", flush=True)
            found = run_code(group.modules, group.tests, scratch, args.jobs)
            results |= found
            scratches |= dict.fromkeys(found, scratch)
    if args.kind in (None, "tables"):
        results |= run_tables(getattr(args, "table", []), args.jobs)
    return 0 if report(results, scratches) else 1


if __name__ == "__main__":
    sys.exit(main())
