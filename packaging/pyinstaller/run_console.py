"""PyInstaller entry for pa-console; mirrors the `pa-console` console script in pyproject.toml."""

from pa_console.console.main import main

raise SystemExit(main())
