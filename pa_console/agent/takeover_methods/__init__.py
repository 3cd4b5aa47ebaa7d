"""Takeover methods beside the shared address (issue #9): DNS swing and NAT swing, run at takeover and demotion."""
