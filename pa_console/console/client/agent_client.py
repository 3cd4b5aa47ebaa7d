"""AgentClient: one long-lived, pinned httpx.AsyncClient per appliance with typed methods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pydantic

from pa_console.console.client.errors import AgentError, ErrorCategory, error_from_response, map_exception
from pa_console.console.client.tls import pinned_context
from pa_console.protocol.constants import API_PREFIX
from pa_console.protocol.models import (
    EmailConfig,
    EmailConfigUpdate,
    EmailTestResult,
    Endpoint,
    FailoverSettings,
    FailoverSettingsUpdate,
    GeneratedKey,
    Health,
    KeyFingerprint,
    RelationshipInfo,
    RelationshipRequest,
    RoleRequest,
    RoleResult,
    SiteDigest,
    SyncStartResult,
    TakeoverMethodCheck,
)

M = TypeVar("M", bound=pydantic.BaseModel)


class AgentClient:
    """Talks to one agent. Every failure leaves here as an AgentError (see errors.py)."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        cert_pem: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.where = f"{host}:{port}"
        base = f"https://{_url_host(host)}:{port}{API_PREFIX}/"
        self._http = httpx.AsyncClient(
            base_url=base,
            verify=pinned_context(cert_pem),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing --------
    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self._http.request(method, path, json=body)
        except Exception as exc:
            raise map_exception(exc, self.where) from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise map_exception(exc, self.where) from exc

    async def _get_model(self, method: str, path: str, model: type[M], body: Any = None) -> M:
        data = await self._request(method, path, body)
        try:
            return model.model_validate(data)
        except pydantic.ValidationError as exc:
            raise map_exception(exc, self.where) from exc

    # -- failover --------
    async def health(self) -> Health:
        return await self._get_model("GET", "failover/health", Health)

    async def failover_settings(self) -> FailoverSettings:
        return await self._get_model("GET", "failover/settings", FailoverSettings)

    async def update_failover_settings(self, update: FailoverSettingsUpdate) -> FailoverSettings:
        body = update.model_dump(mode="json", exclude_unset=True)
        return await self._get_model("PUT", "failover/settings", FailoverSettings, body)

    async def check_takeover_methods(self) -> list[TakeoverMethodCheck]:
        """A dry run of every takeover method's readiness (nothing changes on the appliance)."""
        data = await self._request("POST", "failover/methods/check")
        try:
            return pydantic.TypeAdapter(list[TakeoverMethodCheck]).validate_python(data)
        except pydantic.ValidationError as exc:
            raise map_exception(exc, self.where) from exc

    async def relationship(self) -> RelationshipInfo | None:
        try:
            return await self._get_model("GET", "failover/relationship", RelationshipInfo)
        except AgentError as exc:
            if exc.status_code == 404:
                return None
            raise

    async def establish(self, backup: Endpoint, reverse: Endpoint) -> RelationshipInfo:
        body = RelationshipRequest(backup=backup, reverse=reverse).model_dump(mode="json")
        return await self._get_model("POST", "failover/relationship", RelationshipInfo, body)

    async def break_relationship(self) -> str:
        """Returns the agent's sentence about what happened (e.g. that the other side must be broken too)."""
        data = await self._request("DELETE", "failover/relationship")
        if isinstance(data, dict) and isinstance(data.get("detail"), str):
            return str(data["detail"])
        return "The failover relationship was broken."

    async def sync_now(self) -> SyncStartResult:
        return await self._get_model("POST", "failover/sync", SyncStartResult)

    async def set_role(self, request: RoleRequest) -> RoleResult:
        return await self._get_model("POST", "failover/role", RoleResult, request.model_dump(mode="json"))

    # -- security --------
    async def key_fingerprint(self) -> KeyFingerprint:
        return await self._get_model("GET", "security/key", KeyFingerprint)

    async def set_key(self, key_hex: str) -> None:
        await self._request("PUT", "security/key", {"key": key_hex})

    async def generate_key(self) -> GeneratedKey:
        return await self._get_model("POST", "security/key/generate", GeneratedKey)

    # -- email --------
    async def email(self) -> EmailConfig:
        return await self._get_model("GET", "email", EmailConfig)

    async def update_email(self, update: EmailConfigUpdate) -> EmailConfig:
        body = update.model_dump(mode="json")
        if update.password is None:
            body.pop("password", None)
        return await self._get_model("PUT", "email", EmailConfig, body)

    async def send_test_email(self) -> EmailTestResult:
        return await self._get_model("POST", "email/test", EmailTestResult)

    # -- site --------
    async def site_digest(self) -> SiteDigest:
        return await self._get_model("GET", "site/digest", SiteDigest)

    # -- events --------
    @asynccontextmanager
    async def event_lines(self, after: int) -> AsyncIterator[AsyncIterator[str]]:
        """Open the SSE stream after event number `after`; yields an iterator over its text lines."""
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after)}
        # The agent sends a keep-alive every 10 s: a stream silent for longer is dead (e.g. a network cut).
        timeout = httpx.Timeout(10.0, read=35.0)
        try:
            async with self._http.stream(
                "GET", "events", params={"after": after}, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_from_response(response)
                yield _guarded_lines(response, self.where)
        except AgentError:
            raise
        except Exception as exc:
            raise map_exception(exc, self.where) from exc


async def _guarded_lines(response: httpx.Response, where: str) -> AsyncIterator[str]:
    try:
        async for line in response.aiter_lines():
            yield line
    except AgentError:
        raise
    except Exception as exc:
        raise map_exception(exc, where) from exc


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


__all__ = ["AgentClient", "AgentError", "ErrorCategory"]
