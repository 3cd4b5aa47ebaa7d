"""Every error leaves the agent as a 4xx/5xx with one `detail` sentence; never a traceback."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class AgentError(Exception):
    """A refusal phrased for the administrator, with the HTTP status it maps to."""

    def __init__(self, status: int, detail: str, category: str = "request") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.category = category


_NUMBER_ERRORS = frozenset({"less_than_equal", "greater_than_equal", "less_than", "greater_than", "finite_number",
                            "float_parsing", "int_parsing", "int_from_float"})
_SEND_JSON = "send a JSON object with the header Content-Type: application/json"


def _describe(exc: RequestValidationError | ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        if tuple(err.get("loc", ())) == ("body",):
            # The body as a whole: missing, or not taken as JSON (FastAPI reads a body without the JSON content
            # type as bytes, and said only "Input should be a valid dictionary or object to extract fields from").
            if err.get("type") == "missing":
                return f"Invalid request: the body is missing; {_SEND_JSON}."
            if err.get("type") in ("model_attributes_type", "dict_type"):
                return f"Invalid request: the body is not a JSON object; {_SEND_JSON}."
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        if err.get("type") == "json_invalid":
            return "The request body is not valid JSON; send a JSON object."
        if err.get("type") == "extra_forbidden":
            msg = "is not a known field"
        value = err.get("input")
        # NaN passed as a number was told "should be less than or equal to 86400": say what is wrong with it.
        if err.get("type") in _NUMBER_ERRORS and (
                (isinstance(value, float) and not math.isfinite(value))
                or (isinstance(value, str) and value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"))):
            msg = "must be a finite number (not NaN or infinity)"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "Invalid request: " + "; ".join(parts) + "."


def install_error_handlers(app: FastAPI) -> None:
    # Imported here: identity.py is the agent's own, errors.py is imported by every router.
    from pa_console.agent.identity import IdentityError

    @app.exception_handler(IdentityError)
    async def _identity(_: Request, exc: IdentityError) -> JSONResponse:
        # A key file emptied or garbled while serving: the administrator's to fix, said as such (never a 500).
        log.error("%s", exc)
        return JSONResponse({"detail": str(exc), "category": "key"}, status_code=409)

    @app.exception_handler(AgentError)
    async def _agent_error(_: Request, exc: AgentError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "category": exc.category}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe(exc), "category": "request"}, status_code=422)

    @app.exception_handler(ValidationError)
    async def _model(_: Request, exc: ValidationError) -> JSONResponse:
        # A value that passed the request model but not the stored model (e.g. an explicit null): still the
        # caller's mistake, so a 422 with the field, never a 500.
        return JSONResponse({"detail": _describe(exc), "category": "request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "The request was refused."
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such endpoint; see the API list in the README."
        if exc.status_code == 405:
            detail = "This endpoint does not take that method; see the API list in the README."
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %r", exc, exc_info=exc)
        return JSONResponse({"detail": "The agent hit an internal error; nothing was changed. See the agent log."},
                            status_code=500)
