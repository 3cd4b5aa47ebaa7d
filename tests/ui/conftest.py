from tests.ui.fixtures import aloop, memory_keyring, qloop

__all__ = ["aloop", "memory_keyring", "qloop"]
