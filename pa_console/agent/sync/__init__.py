"""Synchronisation: the primary's change feed, the backup's puller, staging and apply."""
