"""The cost model of ``gateway.limits.measure``, one row per rule, figures written out.

``measure`` reads the parsed document only (no schema, no app): what it returns decides
whether a request is refused before it runs and what it takes from the caller's bucket.
The rules (module docstring of ``gateway.limits``): ``orders(first: n)`` costs ``n`` per
source it reads plus, per order, what the order's selection costs; ``order``/``node``/
``orderByReference`` cost 1 plus their selection; an order's ``parentOrder`` and
``splitOrders`` cost 1 each plus theirs; ``backends`` one per visible backend; a mutation 10;
every other field nothing. A filter that can thin upstream pages lets each source read up to
``scan_pages`` pages, 10 points each after the first; once run, a listing costs what it read.
Fragments count exactly as the same selection written inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from graphql import Lexer, OperationDefinitionNode, Source, TokenKind, parse

from gateway.limits import (
    DEFAULT_FIRST,
    Listing,
    Measure,
    measure,
    more_tokens_than,
    operation_of,
)

ALL_SOURCES = 4
SCAN_PAGES = 5


def measured(
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    sources: int = ALL_SOURCES,
    listings: dict[str, Listing] | None = None,
    operation: str | None = None,
    index_search: bool = False,
    index_reads: bool = False,
) -> Measure:
    document = parse(query)
    chosen = operation_of(document, operation)
    assert chosen is not None
    return measure(
        document,
        chosen,
        variables=variables,
        sources=sources,
        scan_pages=SCAN_PAGES,
        listings=listings,
        index_search=index_search,
        index_reads=index_reads,
    )


def doubling(levels: int, leaf: str) -> str:
    """``{ ...F1 }`` where each fragment spreads the next twice: ``leaf`` 2**(levels-1) times."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, levels)]
    return "\n".join(["{ ...F1 }", *fragments, f"fragment F{levels} on Query {{ {leaf} }}"])


@dataclass(frozen=True)
class Case:
    query: str
    cost: int
    variables: dict[str, Any] | None = None
    sources: int = ALL_SOURCES  # backends the caller may read
    listings: dict[str, Listing] | None = None  # after execution: what each root listing read
    index_search: bool = False  # `feed.index_search`: the order index answers searches
    index_reads: bool = False  # `feed.index_reads`: it answers every listing


ORDERS_100 = "{ orders(first: 100) { edges { node { id } } } }"
COSTS: dict[str, Case] = {
    "orders-first-n-per-source": Case(ORDERS_100, 100 * 4),
    "orders-of-a-caller-seeing-one-source": Case(ORDERS_100, 100, sources=1),
    "filter-sources-narrow-it": Case(
        "{ orders(first: 100, filter: {sources: [CRM, B2B]}) { edges { node { id } } } }", 100 * 2
    ),
    "filter-sources-never-above-the-visible-ones": Case(
        "{ orders(first: 10, filter: {sources: [CRM, CRM, CRM, CRM, CRM]}) { edges { cursor } } }",
        10 * 2,
        sources=2,
    ),
    "filter-sources-through-a-variable": Case(
        "query($f: OrderFilter) { orders(first: 10, filter: $f) { edges { node { id } } } }",
        10,
        variables={"f": {"sources": ["CRM"]}},
    ),
    "default-first-is-20": Case("{ orders { edges { node { id } } } }", DEFAULT_FIRST * 4),
    "first-zero-costs-nothing": Case("{ orders(first: 0) { edges { node { id } } } }", 0),
    "first-through-a-variable": Case(
        "query($n: Int!) { orders(first: $n) { edges { node { id } } } }",
        50 * 4,
        variables={"n": 50},
    ),
    "first-through-a-variable-left-to-its-default": Case(
        "query($n: Int = 50) { orders(first: $n) { edges { node { id } } } }", 50 * 4
    ),
    "first-through-a-variable-sent-as-50.0": Case(  # GraphQL's Int accepts an integral float
        "query($n: Int) { orders(first: $n) { edges { node { id } } } }",
        50 * 4,
        variables={"n": 50.0},
    ),
    "per-order-parent-order": Case(
        "{ orders(first: 10) { edges { node { id parentOrder { id } } } } }", 10 * 4 + 10 * 1
    ),
    "per-order-nested-parent-and-split-orders": Case(
        "{ orders(first: 10) { edges { node {"
        " parentOrder { splitOrders { id } } splitOrders { id } } } } }",
        10 * 4 + 10 * (1 + 1 + 1),
    ),
    "single-order-is-1": Case(
        '{ order(id: "x") { id status lines { sku } customer { name } } }', 1
    ),
    "single-order-with-its-parent": Case('{ order(id: "x") { parentOrder { id } } }', 1 + 1),
    "node-with-an-inline-fragment": Case(
        '{ node(id: "x") { ... on Order { splitOrders { id } } } }', 1 + 1
    ),
    "order-by-reference-nested": Case(
        '{ orderByReference(source: CRM, reference: "r") { splitOrders { parentOrder { id } } } }',
        1 + 1 + 1,
    ),
    "backends-with-healthy-one-per-backend": Case("{ backends { source healthy } }", 4),
    "backends-without-healthy-still-reads-each-health": Case(
        "{ backends { source name capabilities } }", 4
    ),
    "backends-of-a-caller-seeing-one-source": Case("{ backends { healthy } }", 1, sources=1),
    "viewer-costs-nothing": Case(
        "{ viewer { principal scopes throttleStatus { currentlyAvailable } } }", 0
    ),
    "root-fields-add-up": Case(
        '{ a: orders(first: 10) { edges { cursor } } b: order(id: "x") { id } backends { name } }',
        40 + 1 + 4,
    ),
    "mutations-10-each": Case(
        'mutation { a: updateStatus(input: {orderId: "x", status: SHIPPED}) { userErrors { code } }'
        ' b: updateStatus(input: {orderId: "y", status: SHIPPED}) { userErrors { code } } }',
        2 * 10,
    ),
    # A filter that may thin the upstream pages: up to 5 reads per source, 10 points after
    # the first.
    "a-search-may-scan": Case(
        '{ orders(first: 20, filter: {search: "x"}) { edges { cursor } } }', 4 * (20 + 4 * 10)
    ),
    "a-status-filter-may-scan": Case(
        "{ orders(first: 1, filter: {statuses: [PENDING], sources: [CRM]}) { edges { cursor } } }",
        1 + 4 * 10,
    ),
    "updated-since-may-scan": Case(
        "query($f: OrderFilter) { orders(first: 5, filter: $f) { edges { cursor } } }",
        2 * (5 + 40),
        variables={"f": {"updatedSince": "2026-01-01T00:00:00Z", "sources": ["CRM", "B2B"]}},
    ),
    "payment-statuses-may-scan": Case(
        "{ orders(first: 2, filter: {paymentStatuses: [PAID]}) { edges { cursor } } }",
        4 * (2 + 40),
    ),
    "sources-alone-do-not-scan": Case(
        "{ orders(first: 10, filter: {sources: [CRM]}) { edges { cursor } } }", 10
    ),
    "an-empty-search-does-not-scan": Case(
        '{ orders(first: 10, filter: {search: ""}) { edges { cursor } } }', 40
    ),
    "an-empty-status-list-is-priced-as-a-filter": Case(
        "{ orders(first: 10, filter: {statuses: []}) { edges { cursor } } }", 4 * (10 + 40)
    ),
    "nothing-asked-nothing-scanned": Case(
        '{ orders(first: 0, filter: {search: "x"}) { edges { cursor } } }', 0
    ),
    # After execution a listing costs what it read: the orders of each source's first read,
    # 10 per later read, and the per-order part of the orders it returned.
    "a-listing-costs-what-it-read": Case(
        "{ orders(first: 100) { edges { node { parentOrder { id } } } } }",
        7 + 7 * 1,
        listings={"orders": Listing(first_reads=7, later_reads=0, edges=7)},
    ),
    "read-by-response-key": Case(
        "{ a: orders(first: 100) { edges { cursor } } b: orders(first: 100) { edges { cursor } } }",
        3 + 100 * 4,
        listings={"a": Listing(first_reads=3, later_reads=0, edges=3)},
    ),
    # A listing the order index answers is one read across every source, with no scan.
    "a-search-of-the-index-is-one-read": Case(
        '{ orders(first: 20, filter: {search: "x"}) { edges { node { parentOrder { id } } } } }',
        20 + 20 * 1,
        index_search=True,
    ),
    "an-empty-search-reads-the-upstreams": Case(
        '{ orders(first: 10, filter: {search: ""}) { edges { cursor } } }', 40, index_search=True
    ),
    "index-reads-answer-every-listing": Case(
        "{ orders(first: 10, filter: {statuses: [PENDING]}) { edges { cursor } } }",
        10,
        index_reads=True,
    ),
    "a-scan-pays-for-each-later-read": Case(
        '{ orders(first: 5, filter: {search: "x"}) { edges { node { splitOrders { id } } } } }',
        20 + 10 * 12 + 2 * 1,
        listings={"orders": Listing(first_reads=20, later_reads=12, edges=2)},
    ),
}


@pytest.mark.parametrize("case", COSTS.values(), ids=COSTS.keys())
def test_each_rule_of_the_cost_model(case: Case) -> None:
    figures = measured(
        case.query,
        case.variables,
        sources=case.sources,
        listings=case.listings,
        index_search=case.index_search,
        index_reads=case.index_reads,
    )
    assert figures.cost == case.cost


INLINE = "{ orders(first: 10) { edges { node { parentOrder { id } splitOrders { id } } } } }"
SPREADS: dict[str, str] = {
    "named-fragments": """{ ...Q }
        fragment Q on Query { orders(first: 10) { ...C } }
        fragment C on OrderConnection { edges { node { ...O } } }
        fragment O on Order { parentOrder { id } splitOrders { id } }""",
    "inline-fragments": """{ ... on Query { orders(first: 10) { ... on OrderConnection {
        edges { node { ... on Order { parentOrder { id } } ... { splitOrders { id } } } } } } }
        }""",
    "a-fragment-per-order-field": """{ orders(first: 10) { edges { node { ...P ...S } } } }
        fragment P on Order { parentOrder { id } }
        fragment S on Order { splitOrders { id } }""",
}


@pytest.mark.parametrize("query", SPREADS.values(), ids=SPREADS.keys())
def test_fragments_cost_what_the_same_selection_costs_inline(query: str) -> None:
    assert measured(INLINE).cost == 10 * 4 + 10 * (1 + 1)
    assert measured(query) == measured(INLINE)


@dataclass(frozen=True)
class Shape:
    query: str
    depth: int
    aliases: int = 0
    root_fields: int = 1
    directives: int = 0  # the most on one field


SHAPES: dict[str, Shape] = {
    "one-field": Shape("{ viewer { principal } }", depth=2),
    "orders-to-a-parent": Shape("{ orders { edges { node { parentOrder { id } } } } }", depth=5),
    "aliases-at-every-level": Shape(
        "{ a: viewer { p: principal } b: viewer { principal } }", depth=2, aliases=3, root_fields=2
    ),
    "root-fields-of-a-fragment": Shape(
        "{ viewer { principal } ...R }"
        " fragment R on Query { backends { name } b: backends { name } }",
        depth=2,
        aliases=1,
        root_fields=3,
    ),
    "a-fragment-spread-twice-counts-twice": Shape(
        "{ ...F ...F } fragment F on Query { a: viewer { principal } }",
        depth=2,
        aliases=2,
        root_fields=2,
    ),
    "depth-through-fragments": Shape(
        "{ orders { ...C } } fragment C on OrderConnection { edges { node { ...O } } }"
        " fragment O on Order { parentOrder { splitOrders { id } } }",
        depth=6,
    ),
    "directives-most-on-one-field": Shape(
        "{ viewer @include(if: true) @skip(if: false) { principal @include(if: true) } }",
        depth=2,
        directives=2,
    ),
    "directives-repeated-on-one-field": Shape(
        "{ viewer { principal" + " @include(if: true)" * 30 + " } }", depth=2, directives=30
    ),
    "a-fragment-cycle-ends": Shape(
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A viewer { principal } }",
        depth=2,
    ),
    "fragment-doubling-25-levels": Shape(
        doubling(25, "a: viewer { principal }"), depth=2, aliases=2**24, root_fields=2**24
    ),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_depth_aliases_root_fields_and_directives(shape: Shape) -> None:
    figures = measured(shape.query)
    assert (figures.depth, figures.aliases, figures.root_fields, figures.directives) == (
        shape.depth,
        shape.aliases,
        shape.root_fields,
        shape.directives,
    )


def test_a_fragment_doubling_bomb_is_measured_at_its_full_cost() -> None:
    bomb = doubling(25, "orders(first: 1) { pageInfo { hasNextPage } }")
    assert measured(bomb).cost == 2**24 * 1 * 4


OPERATIONS = "query A { viewer { principal } } query B { orders(first: 5) { edges { cursor } } }"


@pytest.mark.parametrize(("name", "cost"), [("A", 0), ("B", 5 * 4)], ids=["A", "B"])
def test_the_named_operation_is_the_one_measured(name: str, cost: int) -> None:
    assert measured(OPERATIONS, operation=name).cost == cost


@pytest.mark.parametrize("name", [None, "C"], ids=["no-name-of-two", "unknown-name"])
def test_no_operation_is_chosen_when_the_request_does_not_say_which(name: str | None) -> None:
    assert operation_of(parse(OPERATIONS), name) is None


def test_the_only_operation_is_chosen_without_a_name() -> None:
    chosen = operation_of(parse("{ viewer { principal } }"), None)
    assert isinstance(chosen, OperationDefinitionNode)


TOKEN_DOCUMENTS = {
    "names-and-braces": "{ orders { edges { cursor } } }",
    "arguments-and-variables": 'query Q($n: Int = 10) { orders(first: $n, after: "x") { a } }',
    "numbers": "{ a(b: -1.5e3, c: 0, d: 12.25, e: 7E-2) }",
    "a-string-holding-a-comment-mark": '{ a(b: "x # not a comment, \\" still") }',
    "a-block-string": '{ a(b: """line "" \\""" still "two" """) }',
    "comments-are-not-tokens": "# head\n{ a # tail\n b }\n# end",
    "commas-are-not-tokens": "{ a, b,, c }",
    "spread-directive-fragment": "{ ...F @include(if: true) } fragment F on Query { a }",
    "list-and-object-values": "{ a(b: [1, 2], c: {d: E, f: null}) }",
    "punctuators": "query($a: [Int!]! = [1]) { a @x(y: $a) | }",
}


def lexed(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


@pytest.mark.parametrize("document", TOKEN_DOCUMENTS.values(), ids=TOKEN_DOCUMENTS.keys())
def test_tokens_are_counted_as_graphql_core_lexes_them(document: str) -> None:
    count = lexed(document)
    assert more_tokens_than(document, count - 1)
    assert not more_tokens_than(document, count)
