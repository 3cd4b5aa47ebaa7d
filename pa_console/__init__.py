"""pa-console: primary/backup failover between two PA appliances."""

__version__ = "0.1.0"
