from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.takeover_methods.dns_server import BindServer, named_binary


@pytest.fixture
def dns_server(tmp_path: Path) -> Iterator[BindServer]:
    """A fresh BIND 9 with the test zone, stopped whatever happens."""
    named, why = named_binary()
    if named is None:
        print(f"\nSKIPPED (no DNS server): {why}")
        pytest.skip(why)
    server = BindServer(tmp_path / "named", named)
    try:
        yield server.start()
    finally:
        server.stop()
