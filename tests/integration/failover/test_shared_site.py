"""The site listener and the loopback driver on real sockets, without agents: serve, answer, hand over, close."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from pa_console.agent.identity import create_identity
from pa_console.agent.paths import DataDir
from pa_console.agent.shared_ip.base import Endpoints, SharedAddressError
from pa_console.agent.shared_ip.loopback import LoopbackDriver
from pa_console.agent.shared_ip.registry import make_driver
from pa_console.agent.shared_ip.site import SharedSite
from pa_console.protocol.models import FailoverSettings, Role, SharedAddress
from tests.harness import free_port


def fake_runtime(tmp_path: Path, name: str, shared: SharedAddress, peer_host: str = "127.0.0.1") -> Any:
    identity = create_identity(DataDir(tmp_path / name), name, None, [])
    return SimpleNamespace(name=name, role=Role.PRIMARY, epoch=3, role_epoch=lambda: (Role.PRIMARY, 3),
                           identity=identity, listen="127.0.0.1:4000",
                           settings=FailoverSettings(shared_address=shared),
                           relationship=SimpleNamespace(peer_host=peer_host), serving_shared_address=False)


async def get_site(shared: SharedAddress, *pems: str) -> dict[str, Any]:
    ctx = ssl.create_default_context(cadata="".join(pems))
    ctx.check_hostname = False
    async with httpx.AsyncClient(verify=ctx, timeout=3) as client:
        r = await client.get(f"https://{shared.address}:{shared.port}/site")
        assert r.status_code == 200
        body: dict[str, Any] = r.json()
        return body


def test_the_site_moves_from_one_appliance_to_the_other(tmp_path: Path) -> None:
    shared = SharedAddress(driver="loopback", address="127.0.0.2", port=free_port("127.0.0.2"))
    alpha, beta = fake_runtime(tmp_path, "alpha", shared), fake_runtime(tmp_path, "beta", shared)
    pems = (alpha.identity.cert_pem, beta.identity.cert_pem)

    async def scenario() -> None:
        a_site, b_site = SharedSite(alpha), SharedSite(beta)
        assert "site answers" in await a_site.serve()
        assert alpha.serving_shared_address is True and a_site.serving
        assert await get_site(shared, *pems) == {"name": "alpha", "role": "primary", "epoch": 3}
        assert "already serving" in await a_site.serve()
        # Never two at once: the second appliance cannot bind while the first serves.
        with pytest.raises(SharedAddressError, match="in use"):
            await b_site.serve()
        assert not b_site.serving and beta.serving_shared_address is False
        await a_site.withdraw()
        assert alpha.serving_shared_address is False
        with pytest.raises(httpx.ConnectError):
            await get_site(shared, *pems)
        await b_site.serve()
        assert (await get_site(shared, *pems))["name"] == "beta"
        assert await b_site.still_held()
        await b_site.withdraw()
        assert "not served" in await b_site.withdraw()

    asyncio.run(scenario())


def test_listener_answers_only_get_of_the_site(tmp_path: Path) -> None:
    shared = SharedAddress(driver="loopback", address="127.0.0.3", port=free_port("127.0.0.3"))
    alpha = fake_runtime(tmp_path, "alpha", shared)

    async def scenario() -> None:
        site = SharedSite(alpha)
        await site.serve()
        ctx = ssl.create_default_context(cadata=alpha.identity.cert_pem)
        ctx.check_hostname = False
        async with httpx.AsyncClient(verify=ctx, timeout=3, base_url=f"https://127.0.0.3:{shared.port}") as c:
            assert (await c.get("/")).json()["name"] == "alpha"
            assert (await c.get("/nope")).status_code == 404
            assert (await c.post("/site")).status_code == 405
        await site.withdraw()

    asyncio.run(scenario())


def test_loopback_eligibility(tmp_path: Path) -> None:
    good = LoopbackDriver(SharedAddress(driver="loopback", address="127.0.0.9", port=9443))
    outside = LoopbackDriver(SharedAddress(driver="loopback", address="10.1.2.3", port=9443))

    async def scenario() -> None:
        assert await good.ineligible(Endpoints("127.0.0.1", "localhost")) is None
        reason = await good.ineligible(Endpoints("127.0.0.1", "192.0.2.7"))
        assert reason is not None and "subnet both appliances share" in reason
        reason = await outside.ineligible(Endpoints("127.0.0.1", "127.0.0.1"))
        assert reason is not None and "127.0.0.0/8" in reason
        with pytest.raises(SharedAddressError, match=r"127\.0\.0\.0/8"):
            await outside.acquire()

    asyncio.run(scenario())


def test_registry_knows_both_drivers() -> None:
    assert make_driver(SharedAddress(driver="loopback", address="127.0.0.2")).name == "loopback"
    assert make_driver(SharedAddress(driver="iproute2", address="10.0.0.1", interface="eth0")).name == "iproute2"
