"""The Starlette application: routes for the wire (OAuth, API), the control surface and the HTML view."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qbo_sandbox import api, control, html_view, oauth_views
from qbo_sandbox.context import Config, Sandbox


class RawSendMiddleware:
    """Outermost ASGI layer: keeps the server's own `send` for api.drop_connection()."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            scope["qbo_sandbox.raw_send"] = send
        await self.app(scope, receive, send)


def build_app(config: Config) -> RawSendMiddleware:
    sandbox = Sandbox(config)

    def bind(handler):
        async def endpoint(request: Request) -> Response:
            result = handler(sandbox, request)
            return await result if asyncio.iscoroutine(result) else result

        return endpoint

    routes = [
        Route("/.well-known/openid_configuration", bind(oauth_views.discovery)),
        Route("/.well-known/openid_configuration/", bind(oauth_views.discovery)),
        Route("/op/v1/jwks", bind(oauth_views.jwks)),
        Route("/connect/oauth2", bind(oauth_views.authorize), methods=["GET", "POST"]),
        Route("/oauth2/v1/tokens/bearer", bind(oauth_views.token), methods=["POST"]),
        Route("/oauth2/v1/tokens/revoke", bind(oauth_views.revoke), methods=["POST"]),
        Route("/v1/openid_connect/userinfo", bind(oauth_views.userinfo)),
        Route("/v3/company/{realm_id}", bind(api.handle_api), methods=["GET", "POST"]),
        Route("/v3/company/{realm_id}/{rest:path}", bind(api.handle_api), methods=["GET", "POST"]),
        Route(
            "/__sandbox__/{path:path}",
            bind(control.control),
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
        *html_view.routes(bind),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(sandbox.state.flush_forever()),
            asyncio.create_task(sandbox.webhooks.run_forever()),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            sandbox.state.flush()  # a clean stop (SIGTERM) loses nothing

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return RawSendMiddleware(app)
