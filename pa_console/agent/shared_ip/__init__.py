"""shared_ip (issue #4)."""
