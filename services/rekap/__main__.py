"""`python -m rekap` runs the command line."""

from rekap.cli import main

raise SystemExit(main())
