"""Qt-free view state: what the views show, with change events (napari style). No I/O, no Qt."""
