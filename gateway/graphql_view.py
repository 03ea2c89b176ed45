"""The ``/graphql`` endpoint: strawberry's ASGI view with our context, GraphiQL examples and
GraphQL-over-HTTP status codes for requests that could not be executed at all."""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import cast

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse

from gateway.context import AppState, Context
from schema import build_schema

EXAMPLES = Path(__file__).with_name("examples.graphql")


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, *, ide_headers: dict[str, str] | None = None, **options: object) -> None:
        """``ide_headers``: what GraphiQL's headers editor starts with (the demo key)."""
        super().__init__(build_schema(), **options)  # type: ignore[arg-type]
        self.state: AppState | None = None  # set by the app's lifespan
        self.ide_headers = ide_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            # Requests that are not GraphQL at all (bad JSON, no query) get JSON errors too.
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                status_code=exc.status_code,
            )
        await response(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        assert self.state is not None, "the app's lifespan has not run"
        return self.state.context_for(request, response if isinstance(response, Response) else None)

    @cached_property
    def graphql_ide_html(self) -> str:
        examples = EXAMPLES.read_text().replace("\\", "\\\\").replace("`", "\\`")
        html = re.sub(
            r"const EXAMPLE_QUERY = `.*?`;",
            lambda _: f"const EXAMPLE_QUERY = `{examples}`;",
            super().graphql_ide_html,
            count=1,
            flags=re.DOTALL,
        )
        if self.ide_headers:
            # A JSON string inside a script: "</" must not end the script element.
            editor = json.dumps(json.dumps(self.ide_headers, indent=2)).replace("</", "<\\/")
            html = html.replace(
                "React.useState(parameters.headers)",
                f"React.useState(parameters.headers || {editor})",
                1,
            )
        return html

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        # A request that could not be executed at all (syntax, unknown field, bad variables)
        # has errors, none of them at a path, and no data: GraphQL over HTTP answers 400.
        # Errors raised while executing carry a path and keep 200.
        if (
            response.status_code == 200
            and isinstance(response_data, dict)
            and response_data.get("data") is None
        ):
            errors = cast(list[dict[str, object]], response_data.get("errors") or [])
            if errors and not any("path" in error for error in errors):
                response.status_code = 400
        return response
