"""What one GraphQL request may ask for, measured on the parsed document before anything runs.

``measure`` walks the chosen operation once (fragments expanded, each at most once per path)
and returns its depth, aliases, root fields, the most directives on one field, and its
**cost**: an estimate of the upstream work it causes, in points.

Cost model (documented in the README, "Partner access"):
- ``orders(first: n)``: ``n`` per source it reads (each source's listing is read to depth n),
  plus, per returned order, what its selection costs; with a filter that can thin the
  upstream pages (statuses, payment statuses, updatedSince, search), each source may read up
  to ``max_scan_pages`` pages: every read after the first costs ``SCAN_PAGE_COST`` more.
  Once it ran, a listing costs what it read: the orders of each source's first read, 10 per
  later read, and the per-order part of the orders it returned. A listing answered from the
  order index (a search, or any listing with ``feed.index_reads``) is one read across every
  source: ``n``, plus the per-order part; once run, the orders it returned, plus theirs;
- ``order``, ``node``, ``orderByReference``: 1, plus what the order's selection costs;
- an order's ``parentOrder`` and ``splitOrders``: 1 each (a read of their own), plus theirs;
- ``backends``: 1 per visible backend (one health call each, asked for or not);
- every mutation: 10 (an upstream read, a write, a read back);
- every other field: 0 (it comes in the same upstream answer).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    value_from_ast_untyped,
)

from domain.errors import ErrorCode

MUTATION_COST = 10
ORDER_COST = 1
SCAN_PAGE_COST = 10  # an upstream read after a listing's first (a filter thinned the pages)
THINNING_FILTERS = ("statuses", "paymentStatuses", "updatedSince", "search")
DEFAULT_FIRST = 20
ORDER_FIELDS = {"parentOrder", "splitOrders"}  # each a read of its own, per order
SINGLE_ORDER = {"order", "node", "orderByReference"}


@dataclass(frozen=True, slots=True)
class Listing:
    """What a root ``orders`` field read upstream, once it ran (``resolvers.pagination``)."""

    first_reads: int  # orders of each source's first read, sources together
    later_reads: int  # reads after the first, sources together
    edges: int  # orders it returned


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int  # an introspection field (``__schema``, ``__type``) counts 1, whatever is in it
    aliases: int
    root_fields: int
    directives: int  # the most on one field
    cost: int
    # Introspection's own bound: how deeply its lists nest (``types { fields { args } }`` is
    # 3). Its other fields are single objects (``type { ofType { ... } }``), so a client's
    # introspection (GraphiQL's is 15 deep) is bounded by this, not by ``depth``.
    introspection_lists: int = 0


# Introspection fields whose values are lists: nesting them multiplies the answer's size.
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
INTROSPECTION_LISTS = frozenset(
    {
        "types",
        "fields",
        "args",
        "inputFields",
        "interfaces",
        "possibleTypes",
        "enumValues",
        "directives",
    }
)


INT_MAX = 2**31 - 1  # the largest GraphQL Int


def too_complex(limit: str, value: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        f"The query's {limit} is {value}; this gateway allows at most {maximum}.",
        extensions={
            "code": ErrorCode.QUERY_TOO_COMPLEX.value,
            "limit": limit,
            "value": value,
            "max": maximum,
        },
    )


# GraphQL's lexical tokens (spec, "Lexical Tokens"), and comments (ignored, not counted).
# Whatever else is in the text is skipped here; the parser refuses it anyway.
_TOKEN = re.compile(
    r'"""(?:\\"""|(?!""")[\s\S])*"""'  # block string
    r'|"(?:[^"\\\n\r]|\\.)*"'  # string
    r"|#[^\n\r]*"  # comment
    r"|[_A-Za-z][_0-9A-Za-z]*"  # name
    r"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"  # number
    r"|\.\.\.|[!$&():=@\[\]{|}]"  # punctuator
)


def more_tokens_than(text: str, maximum: int) -> bool:
    """Whether ``text`` holds more than ``maximum`` tokens, counted as graphql-core's parser
    counts them (comments not), by one regular expression: ~20x cheaper than letting the
    parser build a syntax tree up to its own token limit."""
    tokens = (m for m in _TOKEN.finditer(text) if not m.group().startswith("#"))
    return next(itertools.islice(tokens, maximum, None), None) is not None


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == name), None)


def measure(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    *,
    variables: Mapping[str, Any] | None,
    sources: int,
    scan_pages: int = 1,
    listings: Mapping[str, Listing] | None = None,
    index_search: bool = False,
    index_reads: bool = False,
) -> Measure:
    """The figures of ``operation``; ``sources``: how many backends the caller may read;
    ``scan_pages``: how many upstream pages a filtered listing reads per source at most;
    ``index_search``/``index_reads``: which listings the order index answers (settings
    ``feed.index_search``, ``feed.index_reads``).
    ``listings``: after execution, what each root ``orders`` field (by response key) read,
    so that the cost counts what was read rather than what might have been."""
    # A variable the request leaves out takes its default: the value the resolver will see.
    defaults = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    walker = _Walker(
        document,
        {**defaults, **(variables or {})},
        sources,
        scan_pages,
        listings or {},
        index_search=index_search,
        index_reads=index_reads,
    )
    root = operation.selection_set
    cost = walker.cost(root)
    if operation.operation is OperationType.MUTATION:
        cost += MUTATION_COST * walker.count(root)
    return Measure(
        depth=walker.depth(root),
        aliases=walker.aliases(root),
        root_fields=walker.count(root),
        directives=walker.directives(root),
        cost=cost,
        introspection_lists=walker.introspection_lists(root),
    )


class _Walker:
    """Folds a metric over a selection set. A fragment's figure is computed once (a document
    spreading fragments into fragments costs linear time, not exponential) and a fragment
    spread inside itself counts nothing (validation refuses such a cycle anyway)."""

    def __init__(
        self,
        document: DocumentNode,
        variables: Mapping[str, Any],
        sources: int,
        scan_pages: int,
        listings: Mapping[str, Listing],
        *,
        index_search: bool = False,
        index_reads: bool = False,
    ) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = dict(variables)
        self.sources = sources
        self.scan_pages = scan_pages
        self.listings = listings
        self.index_search = index_search
        self.index_reads = index_reads
        self.memo: dict[tuple[str, str], int] = {}

    def _fold(
        self,
        selections: SelectionSetNode | None,
        metric: str,
        on_field: Callable[[FieldNode], int],
        combine: Callable[[list[int]], int],
    ) -> int:
        parts: list[int] = []
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                parts.append(on_field(node))
            elif isinstance(node, InlineFragmentNode):
                parts.append(self._fold(node.selection_set, metric, on_field, combine))
            elif isinstance(node, FragmentSpreadNode):
                key = (node.name.value, metric)
                if key not in self.memo:
                    self.memo[key] = 0  # while it is being computed: a cycle adds nothing
                    fragment = self.fragments.get(node.name.value)
                    if fragment is not None:
                        folded = self._fold(fragment.selection_set, metric, on_field, combine)
                        self.memo[key] = folded
                parts.append(self.memo[key])
        return combine(parts)

    def depth(self, selections: SelectionSetNode | None) -> int:
        return self._fold(selections, "depth", self._field_depth, _max)

    def _field_depth(self, field: FieldNode) -> int:
        if field.name.value in INTROSPECTION_ROOTS:
            return 1  # bounded by ``introspection_lists`` instead
        return 1 + self.depth(field.selection_set)

    def introspection_lists(self, selections: SelectionSetNode | None, inside: bool = False) -> int:
        """The deepest nesting of introspection's list fields in ``selections``."""
        metric = "introspection" if inside else "introspection-root"

        def on_field(field: FieldNode) -> int:
            name = field.name.value
            within = inside or name in INTROSPECTION_ROOTS
            nested = self.introspection_lists(field.selection_set, within)
            return nested + (inside and name in INTROSPECTION_LISTS)

        return self._fold(selections, metric, on_field, _max)

    def aliases(self, selections: SelectionSetNode | None) -> int:
        return self._fold(
            selections,
            "aliases",
            lambda f: (f.alias is not None) + self.aliases(f.selection_set),
            sum,
        )

    def directives(self, selections: SelectionSetNode | None) -> int:
        return self._fold(
            selections,
            "directives",
            lambda f: max(len(f.directives or ()), self.directives(f.selection_set)),
            _max,
        )

    def count(self, selections: SelectionSetNode | None) -> int:
        return self._fold(selections, "count", lambda f: 1, sum)

    def cost(self, selections: SelectionSetNode | None) -> int:
        return self._fold(selections, "cost", self._field_cost, sum)

    def _field_cost(self, field: FieldNode) -> int:
        name = field.name.value
        if name == "orders":
            first = self._int_argument(field, "first", DEFAULT_FIRST)
            per_order = self._per_order(field)
            listing = self.listings.get((field.alias or field.name).value)
            if listing is not None:  # it ran: what it read
                reads = listing.first_reads + SCAN_PAGE_COST * listing.later_reads
                return reads + listing.edges * per_order
            if self._from_index(field):  # one read of the index, whatever the sources
                return first + first * per_order
            later = self.scan_pages - 1 if first and self._thins(field) else 0
            return self._sources_of(field) * (first + SCAN_PAGE_COST * later) + first * per_order
        if name in SINGLE_ORDER:
            return ORDER_COST + self.order_cost(field.selection_set)
        if name == "backends":
            # The resolver reads every backend's health whether or not `healthy` is asked.
            return self.sources
        return self.cost(field.selection_set)

    def order_cost(self, selections: SelectionSetNode | None) -> int:
        """What one order's selection costs beyond the order itself."""
        return self._fold(selections, "order", self._order_field_cost, sum)

    def _order_field_cost(self, field: FieldNode) -> int:
        if field.name.value in ORDER_FIELDS:
            return ORDER_COST + self.order_cost(field.selection_set)
        return 0

    def _per_order(self, connection: FieldNode) -> int:
        """What each order of a connection costs: its ``edges { node { ... } }`` selection."""

        def node(field: FieldNode) -> int:
            return self.order_cost(field.selection_set) if field.name.value == "node" else 0

        def edges(field: FieldNode) -> int:
            if field.name.value != "edges":
                return 0
            return self._fold(field.selection_set, "per-order:node", node, _max)

        return self._fold(connection.selection_set, "per-order:edges", edges, _max)

    def _filter(self, connection: FieldNode) -> dict[str, Any]:
        for argument in connection.arguments or ():
            if argument.name.value == "filter":
                value = self._value(argument.value)
                return value if isinstance(value, dict) else {}
        return {}

    def _sources_of(self, connection: FieldNode) -> int:
        sources = self._filter(connection).get("sources")
        if isinstance(sources, list):
            return max(1, min(self.sources, len(sources)))
        return max(1, self.sources)

    def _from_index(self, connection: FieldNode) -> bool:
        """Whether the order index answers this listing (``resolvers.indexed``)."""
        search = self._filter(connection).get("search")
        searches = isinstance(search, str) and bool(search.strip())
        return self.index_reads or (self.index_search and searches)

    def _thins(self, connection: FieldNode) -> bool:
        """Whether its filter may leave upstream pages with few matches (more reads)."""
        given = self._filter(connection)
        return any(given.get(name) not in (None, "") for name in THINNING_FILTERS)

    def _int_argument(self, field: FieldNode, name: str, default: int) -> int:
        for argument in field.arguments or ():
            if argument.name.value == name:
                value = self._value(argument.value)
                if isinstance(value, float) and value.is_integer():
                    value = int(value)  # a JSON variable `100.0` is the Int 100 to GraphQL
                if not isinstance(value, int) or value < 0:
                    return default
                return min(value, INT_MAX)  # GraphQL's Int: anything larger is refused anyway
        return default

    def _value(self, node: ValueNode) -> Any:
        try:
            return value_from_ast_untyped(node, self.variables)
        except (TypeError, ValueError):
            return None


def _max(parts: list[int]) -> int:
    return max(parts, default=0)
