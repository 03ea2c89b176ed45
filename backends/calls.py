"""Every HTTP exchange with an upstream, told to the operators: ``ObservedTransport`` wraps a
backend's transport, so token requests, retries and shared reads are all seen, each once.

For each exchange: the request's record gets an ``UpstreamCall`` (``extensions.upstream``,
the access line), the metrics count it by backend, method, route template and status class,
and, with tracing on, a client span covers it and the upstream receives its ``traceparent``.
Route templates (``/api/order/{id}/``) name the call without its ids: each client declares
the templates of its parameterised paths, matched against the path as sent (still
percent-encoded: an encoded ``/`` stays inside its segment). A path that matches none is its
own template with every segment that is not a plain word (letters, digits, ``_-``, starting
with a letter) as ``{id}``; past ``MAX_FALLBACKS`` such templates a backend's calls count as
``other``: no caller can grow the labels.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

import httpx

from telemetry import metrics, record, tracing

PLAIN_SEGMENT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")
MAX_FALLBACKS = 50  # templates a backend may have beyond its declared ones
OTHER = "other"


class RouteTemplates:
    """Path -> route template, for one backend."""

    def __init__(self, templates: Iterable[str] = ()) -> None:
        self._patterns = [
            (re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(t)) + "$"), t)
            for t in templates
        ]
        self._known: dict[str, str] = {}
        self._fallbacks: set[str] = set()

    def of(self, path: str) -> str:
        """The template of ``path`` as sent (percent-encoded, without the query)."""
        found = self._known.get(path)
        if found is not None:
            return found
        template = next((t for pattern, t in self._patterns if pattern.match(path)), None)
        if template is None:
            template = "/".join(
                s if not s or PLAIN_SEGMENT.fullmatch(s) else "{id}" for s in path.split("/")
            )
            if template not in self._fallbacks:
                if len(self._fallbacks) >= MAX_FALLBACKS:
                    return OTHER
                self._fallbacks.add(template)
        if len(self._known) < 1_000:  # the static paths, mostly: a bounded memo
            self._known[path] = template
        return template


class ObservedTransport(httpx.AsyncBaseTransport):
    """A backend's transport, with each exchange recorded, counted and traced."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, backend: str, routes: RouteTemplates
    ) -> None:
        self.inner = inner
        self.backend = backend
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route = self.routes.of(request.url.raw_path.split(b"?", 1)[0].decode("ascii"))
        method = request.method
        span = tracing.upstream_span(self.backend, method, route, request)
        status: int | None = None
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
            status = response.status_code
            return response
        except BaseException as error:
            if span is not None:
                tracing.failed(span, error)
            raise
        finally:
            seconds = time.perf_counter() - started
            metrics.upstream_call(self.backend, method, route, status, seconds)
            current = record.current()
            if current is not None:
                current.calls.append(
                    record.UpstreamCall(self.backend, method, route, status, seconds * 1000)
                )
            if span is not None:
                tracing.end_upstream(span, status)

    async def aclose(self) -> None:
        await self.inner.aclose()
