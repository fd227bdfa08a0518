"""``comptoir openapi [--check] [--output docs/openapi.json]``: the API's OpenAPI document.

The document is generated from the code and committed, so that a change to the API shows in
review and clients can be generated without running the server. ``--check`` fails when the
committed file no longer matches the code.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

#: The NinjaAPI whose document is written (named, not imported: core sits below config).
DEFAULT_API = "comptoir.config.api.api"
DEFAULT_OUTPUT = "docs/openapi.json"


def schema(api_path: str = DEFAULT_API) -> dict[str, Any]:
    return dict(import_string(api_path).get_openapi_schema())


def render(api_path: str = DEFAULT_API) -> str:
    """The document as committed: pretty-printed, keys sorted, one trailing newline."""
    return json.dumps(schema(api_path), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Write the OpenAPI document of the API, or check that the committed one is current."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            default=DEFAULT_OUTPUT,
            help=f"Where to write it (default {DEFAULT_OUTPUT}).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; fail if the file differs from the code.",
        )
        parser.add_argument(
            "--api", default=DEFAULT_API, help="Dotted path of the NinjaAPI object."
        )

    def handle(self, *args, output: str, check: bool, api: str, **options):
        path = Path(output)
        document = render(api)
        if check:
            if not path.exists():
                raise CommandError(
                    f"{path} does not exist (the path is relative to the current folder). "
                    "Run `comptoir openapi` from the repository root and commit the result."
                )
            current = path.read_text(encoding="utf-8")
            if current != document:
                diff = list(
                    difflib.unified_diff(
                        current.splitlines(),
                        document.splitlines(),
                        f"{path} (committed)",
                        f"{path} (code)",
                        lineterm="",
                    )
                )
                shown = "\n".join(diff[:40]) + ("\n…" if len(diff) > 40 else "")
                raise CommandError(
                    f"{path} is out of date with the code. Run `comptoir openapi` and commit the result.\n{shown}"
                )
            self.stdout.write(f"{path} is up to date.")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document, encoding="utf-8")
        self.stdout.write(f"Wrote {path} ({len(json.loads(document).get('paths', {}))} paths).")
