"""Allow ``python -m labstack``."""

from labstack.cli import main

raise SystemExit(main())
