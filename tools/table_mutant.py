"""A pytest plugin that runs the suite against one mutant of a module-level rule table.

``tools/mutation.py tables`` starts ``pytest -p table_mutant`` with ``ORDERGATE_TABLE_MUTANT``
set to a JSON mutant (``Mutant.spec``). Before any test module is imported, an import hook
recompiles the table's module with ``NAME = <literal>`` turned into
``NAME = __mutate__(<literal>)``, so everything computed from the table at import (an
inverted map, a derived set) and every module importing it sees the mutant, as if the
literal had been edited. A session in which the table was never built fails (exit 3): a
mutant that was not applied must not pass for a survivor.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from enum import Enum
from types import ModuleType
from typing import Any

import pytest

ENV = "ORDERGATE_TABLE_MUTANT"


def _ordered(values: Any) -> list[Any]:
    """A table's members in a stable order (enum definition order, else sorted)."""
    members = list(values)
    if members and isinstance(members[0], Enum):
        return sorted(members, key=list(type(members[0])).index)
    return sorted(members, key=repr)


def value_domain(table: Any) -> list[Any]:
    """The values one entry of ``table`` may be changed into."""
    leaves = list(_leaves(table))
    sample = leaves[0][1] if leaves else None
    if isinstance(sample, Enum):
        return list(type(sample))
    return _ordered({value for _, value in leaves})


def set_domain(table: dict[Any, Any]) -> list[Any]:
    """The members a set-valued entry may gain or lose: every key and every member."""
    members = set(table)
    for value in table.values():
        members |= set(value)
    return _ordered(members)


def _leaves(table: Any, path: tuple[Any, ...] = ()) -> Any:
    if isinstance(table, dict):
        for key, value in table.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(table, list):
        for index, row in enumerate(table):
            yield (*path, index), row[-1]  # a policy row: (match, action)
    else:
        yield path, table


def describe(value: Any) -> str:
    return value.name if isinstance(value, Enum) else repr(value)


def apply(table: Any, spec: dict[str, Any]) -> Any:
    """``table`` with the one change ``spec`` describes (indices into stable orders)."""
    op, path = spec["op"], spec["path"]
    if op == "toggle":  # dict[K, frozenset]: add or remove one member of one entry
        key = list(table)[path[0]]
        member = set_domain(table)[spec["member"]]
        members = set(table[key]) ^ {member}
        return {**table, key: type(table[key])(members)}
    if isinstance(table, list):
        rows = list(table)
        if op == "delete":
            del rows[path[0]]
        else:
            rows[path[0]] = (*rows[path[0]][:-1], value_domain(table)[spec["value"]])
        return type(table)(rows)
    return _apply_mapping(table, path, op, spec.get("value"), value_domain(table))


def _apply_mapping(
    table: dict[Any, Any], path: Sequence[int], op: str, value: int | None, domain: list[Any]
) -> dict[Any, Any]:
    copy = dict(table)
    key = list(copy)[path[0]]
    if len(path) > 1:
        copy[key] = _apply_mapping(copy[key], path[1:], op, value, domain)
    elif op == "delete":
        del copy[key]
    else:
        assert value is not None
        copy[key] = domain[value]
    return copy


class _Mutated(ast.NodeTransformer):
    def __init__(self, name: str) -> None:
        self.name, self.found = name, False

    def _wrap(self, node: ast.Assign | ast.AnnAssign, target: ast.expr) -> Any:
        if isinstance(target, ast.Name) and target.id == self.name and node.value is not None:
            self.found = True
            node.value = ast.Call(ast.Name("__mutate__", ast.Load()), [node.value], [])
        return node

    def visit_Assign(self, node: ast.Assign) -> Any:
        return self._wrap(node, node.targets[0]) if len(node.targets) == 1 else node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        return self._wrap(node, node.target)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.Module):
            return super().generic_visit(node)
        return node  # module level only


class _Loader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, spec: dict[str, Any]) -> None:
        super().__init__(fullname, path)
        self.mutant = spec
        self.applied = False

    def exec_module(self, module: ModuleType) -> None:
        tree = ast.parse(self.get_data(self.path).decode(), self.path)
        transformer = _Mutated(self.mutant["name"])
        tree = ast.fix_missing_locations(transformer.visit(tree))
        if not transformer.found:
            raise RuntimeError(f"{self.mutant['name']} is not assigned in {self.path}")

        def mutate(table: Any) -> Any:
            self.applied = True
            return apply(table, self.mutant)

        module.__dict__["__mutate__"] = mutate
        exec(compile(tree, self.path, "exec"), module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, spec: dict[str, Any]) -> None:
        self.mutant = spec
        self.loader: _Loader | None = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.mutant["module"] or self.loader is not None:
            return None
        sys.meta_path.remove(self)
        try:
            found = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        assert found is not None and found.origin is not None
        self.loader = _Loader(fullname, found.origin, self.mutant)
        return importlib.util.spec_from_file_location(fullname, found.origin, loader=self.loader)


_finder: _Finder | None = None
if os.environ.get(ENV):
    _finder = _Finder(json.loads(os.environ[ENV]))
    sys.meta_path.insert(0, _finder)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _finder is not None and (_finder.loader is None or not _finder.loader.applied):
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
