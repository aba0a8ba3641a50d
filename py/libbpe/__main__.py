"""``python -m libbpe``: see :mod:`libbpe.cli`."""

from .cli import main

raise SystemExit(main())
