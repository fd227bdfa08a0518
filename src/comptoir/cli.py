"""The ``comptoir`` command: Comptoir's own commands, and every Django management command."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else ["comptoir", *argv])
    if len(args) == 1:
        args.append("help")
    args[0] = "comptoir"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
