"""Qt-free services that connect the client (I/O) to the state (what the views show)."""
