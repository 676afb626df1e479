"""``python -m tamelab``: the command line (Ctrl-C at any point prints ``interrupted`` and exits 130)."""

import sys

try:
    from .cli.main import main
except KeyboardInterrupt:  # pragma: no cover - interrupted while importing
    print("interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
