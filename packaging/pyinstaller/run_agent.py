"""PyInstaller entry for pa-agent; mirrors the `pa-agent` console script in pyproject.toml."""

from pa_console.agent.cli import main

raise SystemExit(main())
