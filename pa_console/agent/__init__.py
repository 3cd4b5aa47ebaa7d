"""The per-appliance agent: HTTPS service, store, sync, failover, mail and shared-address drivers. Never imports Qt."""
