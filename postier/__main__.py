from postier.cli import main

raise SystemExit(main())
