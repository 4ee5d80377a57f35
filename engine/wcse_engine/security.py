"""Refusing cross-site requests: any web page the user visits can make the browser send requests to a server on
127.0.0.1, so the engine answers only requests that cannot come from one.

- **Host** must name a loopback address (`localhost`, `127.0.0.1`, `::1`, any port) or one of the configured
  hosts (`WCSE_ENGINE_ALLOWED_HOSTS`, comma-separated): a DNS-rebinding page reaches the engine under its own
  name and is refused with 403.
- **Origin**, when present, must be the engine's own origin (`http://<Host>`); browsers send it on every
  cross-origin POST, so a foreign page is refused with 403 (`Origin: null` too).
- **Content type**: a request with a body must say `application/json` (or `multipart/form-data` for file
  uploads): a `text/plain` or typeless body, which a page may send without asking the engine first, is 415.
- **Bearer token**: when `WCSE_ENGINE_API_KEY` is set, every request but `GET /health` needs
  `Authorization: Bearer <key>` (401 otherwise); wcse sends it when a model's `apiKeyEnv` names that variable.

A pure ASGI middleware: it decides from the headers alone and never reads the body.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

API_KEY_ENV = "WCSE_ENGINE_API_KEY"
ALLOWED_HOSTS_ENV = "WCSE_ENGINE_ALLOWED_HOSTS"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PATHS = frozenset({"/health"})


@dataclass(frozen=True)
class SecurityPolicy:
    """What the middleware enforces; `from_env` reads it from the environment."""

    api_key: str | None = None
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None) -> SecurityPolicy:
        env = os.environ if environ is None else environ
        hosts = [h for h in env.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
        return SecurityPolicy(
            api_key=env.get(API_KEY_ENV) or None,
            allowed_hosts=frozenset(h.strip().lower() for h in hosts),
        )


def split_host(host_header: str) -> str:
    """The host part of a Host header: `127.0.0.1:8011` -> `127.0.0.1`, `[::1]:8011` -> `::1`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(policy: SecurityPolicy, method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
    """Why a request is refused, as (status, message, code), or None when it may go on."""
    host_header = headers.get("host", "")
    host = split_host(host_header)
    if not host_header or not (is_loopback(host) or host in policy.allowed_hosts):
        return (
            403,
            f"Host {host_header!r} is not a loopback address: the engine answers only requests made to it as "
            f"127.0.0.1/localhost (add other names to {ALLOWED_HOSTS_ENV})",
            "host_not_allowed",
        )
    origin = headers.get("origin")
    if origin is not None:
        own = {f"http://{host_header.strip().lower()}", f"https://{host_header.strip().lower()}"}
        if origin.strip().lower() not in own:
            return (
                403,
                f"Origin {origin!r} is not this engine's own origin: cross-site requests are refused",
                "origin_not_allowed",
            )
    if policy.api_key is not None and not (method == "GET" and path in OPEN_PATHS):
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), policy.api_key.encode()):
            return (
                401,
                f"Missing or wrong bearer token: this engine requires the key in {API_KEY_ENV} "
                "(Authorization: Bearer <key>)",
                "invalid_api_key",
            )
    if method in BODY_METHODS and has_body(headers):
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        json_type = media_type == "application/json" or (
            media_type.startswith("application/") and media_type.endswith("+json")
        )
        if not (json_type or media_type == "multipart/form-data"):
            shown = media_type or "none"
            return (
                415,
                f"Content type {shown!r} is not accepted: send JSON bodies as application/json "
                "(file uploads as multipart/form-data)",
                "unsupported_media_type",
            )
    return None


def has_body(headers: dict[str, str]) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in headers


class SecurityMiddleware:
    """ASGI middleware applying a SecurityPolicy to every HTTP request."""

    def __init__(self, app: Any, policy: SecurityPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = refusal(self.policy, scope.get("method", "GET").upper(), scope.get("path", ""), headers)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message, code = problem
        body = json.dumps(
            {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
        ).encode()
        response_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            response_headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})
