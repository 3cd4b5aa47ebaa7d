"""The desktop console: an API client, Qt-free view state and services, and Qt views on top."""
