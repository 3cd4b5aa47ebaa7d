"""failover (issue #4)."""
