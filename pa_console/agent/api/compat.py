"""BeyondTrust-compatible endpoints, so that existing load balancer checks and scripts work unchanged.

- `GET /check_health`, without a token: 200 on the active site (the primary, or a standalone appliance), 500
  otherwise, with one sentence and no data (what a load balancer's `option httpchk` needs).
- `GET|POST /api/command?action=check_health|set_failover_role`, with a token: XML as BeyondTrust answers it.
  `set_failover_role` does what `POST /api/v1/failover/role` does.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from pa_console.agent.auth import Admin, Runtime
from pa_console.agent.compat import xml_answers
from pa_console.agent.compat.health_check import judge
from pa_console.agent.errors import AgentError
from pa_console.agent.failover.manual import request_role
from pa_console.agent.failover.service import FailoverService
from pa_console.protocol.models import RoleRequest

router = APIRouter()
command_router = APIRouter(dependencies=[Admin])

_MAX_FORM_BYTES = 4096  # a command is a few short parameters
_FLAGS = {"0": False, "1": True, "false": False, "true": True}
XML = "application/xml; charset=utf-8"


@router.get("/check_health", response_class=PlainTextResponse)
@router.head("/check_health", response_class=PlainTextResponse, include_in_schema=False)
def check_health(runtime: Runtime) -> PlainTextResponse:
    verdict = judge(runtime)
    # no-store: a cache between the balancer and the appliance must never answer for it.
    return PlainTextResponse(verdict.sentence + "\n", status_code=200 if verdict.ok else 500,
                             headers={"Cache-Control": "no-store"})


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=XML, headers={"Cache-Control": "no-store"})


async def _parameters(request: Request) -> dict[str, str]:
    """Query parameters, and for a POST the url-encoded form too (as BeyondTrust takes them)."""
    params = dict(request.query_params)
    if request.method == "POST":
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FORM_BYTES:
                raise AgentError(413, f"The command's parameters exceed {_MAX_FORM_BYTES} bytes; send only action, "
                                      "role, data_sync_first and force.")
        if body:
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                raise AgentError(415, "Send the command's parameters as application/x-www-form-urlencoded (or in "
                                      "the query string).")
            params.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return params


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "0").strip().lower()
    if value not in _FLAGS:
        raise AgentError(400, f"{name} must be 0 or 1, not {value[:20]!r}.")
    return _FLAGS[value]


def _read_only(request: Request) -> bool:
    # The principal comes from the token middleware (named tokens); without it, the one admin token is full power.
    return bool(getattr(getattr(request.state, "principal", None), "read_only", False))


@command_router.get("/api/command", operation_id="command_get")
@command_router.post("/api/command", operation_id="command_post")
async def command(request: Request, runtime: Runtime) -> Response:
    try:
        params = await _parameters(request)
        action = params.get("action", "")
        if action == "check_health":
            verdict = judge(runtime)
            return _xml(xml_answers.check_health(runtime.health(), verdict, runtime.settings.shared_address))
        if action == "set_failover_role":
            return await _set_failover_role(request, runtime, params)
        known = "check_health, set_failover_role"
        raise AgentError(400, f"Unknown action {action[:40]!r}; this appliance supports {known}." if action
                         else f"The action parameter is missing; use one of {known}.")
    except AgentError as exc:
        return _xml(xml_answers.error(exc.detail), exc.status)


async def _set_failover_role(request: Request, runtime: Runtime, params: dict[str, str]) -> Response:
    if _read_only(request):
        raise AgentError(403, "This token is read-only; set_failover_role needs a token with full access.", "auth")
    role = params.get("role", "")
    if role not in ("primary", "backup"):
        raise AgentError(400, f"role must be primary or backup, not {role[:20]!r}." if role else
                         "The role parameter is missing; give role=primary or role=backup.")
    wanted = RoleRequest(role="primary" if role == "primary" else "backup",
                         sync_first=_flag(params, "data_sync_first"), force=_flag(params, "force"))
    result = await request_role(FailoverService.of(runtime), wanted)
    return _xml(xml_answers.success(result.detail))
