"""Allows ``python -m amalia_local`` where the ``amalia`` script is not on PATH."""

from amalia_local.cli import main

raise SystemExit(main())
