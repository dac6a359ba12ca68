from bluebot.cli import main

raise SystemExit(main())
