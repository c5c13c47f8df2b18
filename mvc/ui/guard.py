"""The gate in front of every route: a local page must not be readable or writable by
anyone but the user who started it.

- Host: only ``127.0.0.1:<port>`` and ``localhost:<port>``.  A page on a hostile domain that
  re-points its DNS name at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
- Token: 32 random bytes, printed in the URL as Jupyter does.  The first request carrying it
  gets an HttpOnly, SameSite=Strict cookie named after the port (cookies ignore ports, so
  two servers must not share a name) and a redirect to the same URL without the token, so
  the token stays out of the history and of Referer headers.  Anything else is refused.
- Writes: refused unless the server was started with ``--write``; then a write must also
  carry the token in its form (a page on another port of 127.0.0.1 is "same-site" and would
  get the cookie) and, when the browser sends an Origin, come from this origin.
- Every answer carries a Content-Security-Policy without any script source: the pages need
  no script, so text from a store that slipped past escaping still could not run.
"""
from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlencode

SAFE_METHODS = ("GET", "HEAD")
HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),   # no-referrer would make a form post send "Origin: null"
    (b"cache-control", b"no-store"),
]


def same(given: str | None, token: str) -> bool:
    """Constant-time comparison of a presented token (any text) with ours."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


class Guard:
    """ASGI middleware: Host check, token check, read-only check, security headers."""

    def __init__(self, app, token: str, port: int, write: bool = False):
        self.app = app
        self.token = token
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{h}" for h in self.hosts}
        self.cookie = f"mvc-ui-{port}"
        self.write = write

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "websocket":   # no route speaks websocket: close it unopened
                await send({"type": "websocket.close", "code": 1008})
                return
            return await self.app(scope, receive, send)
        send = _with_headers(send)
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal:
            return await _plain(send, *refusal)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if any(k == "token" for k, _ in query):
            return await self._set_cookie(send, scope, query)
        await self.app(scope, receive, send)

    def _refusal(self, scope, headers: dict) -> tuple[int, str] | None:
        """(status, message) when the request must be refused, else None."""
        if headers.get("host", "").lower() not in self.hosts:
            return 403, ("mvc ui refused a request for another host name (DNS rebinding protection): "
                         "open the 127.0.0.1 URL that `mvc ui` printed\n")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if not (same(query.get("token"), self.token) or same(_cookie(headers, self.cookie), self.token)):
            return 403, "mvc ui needs its token: open the URL that `mvc ui` printed (it ends in ?token=...)\n"
        if scope["method"] not in SAFE_METHODS:
            if not self.write:
                return 403, "mvc ui is read-only: start it with `mvc ui --write` to change aliases\n"
            origin = headers.get("origin")
            if origin is not None and origin not in self.origins:
                return 403, "mvc ui refused a write from another origin\n"
        return None

    async def _set_cookie(self, send, scope, query: list) -> None:
        rest = urlencode([(k, v) for k, v in query if k != "token"])
        path = (scope.get("raw_path") or scope["path"].encode()).split(b"?")[0]
        location = b"/" + path.lstrip(b"/")   # never "//host": not an open redirect
        location += b"?" + rest.encode() if rest else b""
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location), (b"set-cookie", cookie), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


def _headers(scope) -> dict:
    """Request headers, lower-cased names; a repeated Host makes the value unusable (refused)."""
    out: dict = {}
    for k, v in scope.get("headers", []):
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        out[name] = "\0repeated" if name == "host" and name in out else value
    return out


def _cookie(headers: dict, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _with_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = dict(message, headers=list(message.get("headers", [])) + HEADERS)
        await send(message)
    return wrapped


async def _plain(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
