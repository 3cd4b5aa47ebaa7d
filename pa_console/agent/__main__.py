from pa_console.agent.cli import main

raise SystemExit(main())
