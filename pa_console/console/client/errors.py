"""Every failure talking to an agent becomes one AgentError with a category and a sentence for the user."""

from __future__ import annotations

import json
import ssl
from enum import StrEnum
from typing import Any

import httpx
import pydantic


class ErrorCategory(StrEnum):
    CONNECTION = "connection"
    TLS = "tls"
    AUTH = "auth"
    REQUEST = "request"
    PARSING = "parsing"


class AgentError(Exception):
    """What went wrong, in one sentence a person can act on, plus where it came from."""

    def __init__(
        self,
        category: ErrorCategory,
        message: str,
        *,
        status_code: int | None = None,
        field: str | None = None,
        agent_category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.message = message
        self.status_code = status_code
        # The request field the agent complained about, when it said so (e.g. "backup.port").
        self.field = field
        # The agent's own word for what the refusal concerns ("key", "version", "connection", "peer", ...).
        self.agent_category = agent_category

    def __repr__(self) -> str:
        return f"AgentError({self.category.value!r}, {self.message!r}, status_code={self.status_code})"


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def _field_from_validation(detail: list[Any]) -> tuple[str, str | None]:
    """FastAPI's 422 body: a list of {loc, msg}. Make one sentence and name the field."""
    parts: list[str] = []
    field: str | None = None
    for item in detail[:3]:
        if not isinstance(item, dict):
            continue
        loc = [str(p) for p in item.get("loc", []) if p != "body"]
        name = ".".join(loc)
        if field is None and name:
            field = name
        msg = str(item.get("msg", "is not valid"))
        parts.append(f"{name}: {msg}" if name else msg)
    return ("; ".join(parts) or "The appliance refused the request as invalid.", field)


def error_from_response(response: httpx.Response) -> AgentError:
    """A non-2xx response as an AgentError; the agent's own `detail` sentence passes through."""
    status = response.status_code
    detail: str | None = None
    field: str | None = None
    agent_category: str | None = None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        body = None
    if isinstance(body, dict):
        raw = body.get("detail")
        if isinstance(raw, str):
            detail = raw
        elif isinstance(raw, list):
            detail, field = _field_from_validation(raw)
        if isinstance(body.get("field"), str):
            field = body["field"]
        if isinstance(body.get("category"), str):
            agent_category = body["category"]
    # 403 also means "the keys differ" (category "key"): only a bare or "auth" 403 is about the token.
    if status == 401 or (status == 403 and agent_category in (None, "auth")):
        return AgentError(
            ErrorCategory.AUTH,
            detail or "The appliance refused the API token; check the token with `pa-agent info` and add it again.",
            status_code=status,
        )
    if status >= 500:
        return AgentError(
            ErrorCategory.REQUEST,
            detail or f"The appliance had an internal error (HTTP {status}); look at its log.",
            status_code=status,
            agent_category=agent_category,
        )
    return AgentError(
        ErrorCategory.REQUEST,
        detail or f"The appliance refused the request (HTTP {status}).",
        status_code=status,
        field=field,
        agent_category=agent_category,
    )


def map_exception(exc: BaseException, where: str) -> AgentError:
    """Map an httpx/ssl/pydantic failure to an AgentError. `where` is "host:port" for the message."""
    if isinstance(exc, AgentError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        return error_from_response(exc.response)
    # A timeout first: an agent that hangs (stopped, overloaded) accepts the connection and never answers the TLS
    # handshake, so the timeout carries an SSLWantReadError as its cause; that is no certificate problem.
    if isinstance(exc, httpx.TimeoutException):
        if isinstance(exc, httpx.ConnectTimeout) and _ssl_cause(exc) is None:
            # Not even a TCP connection in time: a host that is down, or a firewall that drops the packets.
            return AgentError(
                ErrorCategory.CONNECTION,
                f"{where} did not accept a connection in time; check that the appliance is up and that the network "
                "lets this computer reach it.",
            )
        return AgentError(
            ErrorCategory.CONNECTION,
            f"{where} accepts connections but did not answer in time; the agent may be hung or overloaded: "
            "check it on the appliance (pa-agent status, its log).",
        )
    ssl_error = _ssl_cause(exc)
    if ssl_error is not None:
        if isinstance(ssl_error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(ssl_error):
            return AgentError(
                ErrorCategory.TLS,
                f"The certificate of {where} is not the one you trusted; if the appliance was reinstalled, "
                "remove it and add it again, otherwise someone may be intercepting the connection.",
            )
        # Not about the certificate (a connection cut during the handshake, plain HTTP on the port, no common
        # protocol version): a connection problem, said without the ssl module's file and line numbers.
        reason = str(ssl_error.reason or "").replace("_", " ").lower() or "the connection was cut"
        return AgentError(
            ErrorCategory.CONNECTION,
            f"The secure connection to {where} failed during the TLS handshake ({reason}); check that pa-agent "
            "serves HTTPS at this address and port.",
        )
    if isinstance(exc, httpx.ConnectError):
        return AgentError(
            ErrorCategory.CONNECTION,
            f"Cannot connect to {where}; check that the agent runs and the address is right.",
        )
    if isinstance(exc, httpx.TransportError):
        return AgentError(ErrorCategory.CONNECTION, f"The connection to {where} was lost ({type(exc).__name__}).")
    if isinstance(exc, pydantic.ValidationError | json.JSONDecodeError | ValueError):
        return AgentError(
            ErrorCategory.PARSING,
            f"{where} sent an answer the console does not understand; do console and agent versions match?",
        )
    if isinstance(exc, OSError):
        return AgentError(ErrorCategory.CONNECTION, f"Cannot reach {where}: {exc.strerror or exc}.")
    return AgentError(ErrorCategory.REQUEST, f"Talking to {where} failed: {exc}.")
