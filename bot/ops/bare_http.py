"""aiohttp that does not say it is aiohttp: no `Server` header on any answer.

Answers of the application lose the header in `on_response_prepare` (see `webserver`); the
answers aiohttp writes itself to requests too malformed to reach the application (a bad
request line, oversized headers) are made here, as one plain word, without it.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest


class BareResponse(web.Response):
    """A response whose `Server` header is dropped just before the head is written."""

    async def _write_headers(self) -> None:
        self.headers.popall(hdrs.SERVER, None)
        await super()._write_headers()


def plain(status: int) -> web.Response:
    """An error answer: the status and its phrase in lower case, nothing else."""
    return BareResponse(status=status, text=HTTPStatus(status).phrase.lower())


class _BareProtocol(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs it; raises if too late
        response = plain(status)
        response.force_close()
        return response


class _BareServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _BareProtocol(self, loop=self._loop, **self._kwargs)


class BareAppRunner(web.AppRunner):
    """`web.AppRunner` whose connections answer malformed requests with `plain`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _BareServer  # the same server, one method different
        return server
