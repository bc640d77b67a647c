"""``python -m infra.cli``: the ``imgedge`` command."""

from infra.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
