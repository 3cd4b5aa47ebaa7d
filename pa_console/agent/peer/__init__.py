"""Agent-to-agent: handshake, pinned client, peer API."""
