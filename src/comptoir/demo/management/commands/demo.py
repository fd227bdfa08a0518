"""``comptoir demo``: migrate, load the demo data once, and print the demo logins."""

from __future__ import annotations

import shlex
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from comptoir.demo.data import LOGINS, PASSWORD, is_loaded, load


class Command(BaseCommand):
    help = "Migrate and load demo data (once; running it again keeps the data)."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if is_loaded():
            self.stdout.write("Demo data already loaded; keeping it.")
        else:
            self.stdout.write("Loading demo data…")
            from huey.contrib.djhuey import HUEY

            # Routing and SLA clocks are computed now, not left to the first worker.
            HUEY.immediate = True
            try:
                load()
            finally:
                HUEY.immediate = False
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        width = max(len(login.email) for login in LOGINS)
        self.stdout.write(f"\nDemo logins (password for all: {PASSWORD}):")
        for login in LOGINS:
            self.stdout.write(f"  {login.email.ljust(width)}  {login.role}")
        command = (
            shlex.quote(sys.argv[0])
            if sys.argv and sys.argv[0].endswith("comptoir")
            else "comptoir"
        )
        data_dir = shlex.quote(str(settings.DATA_DIR))
        self.stdout.write(
            "\nOnly the administrator signs in to /admin/ for now; the others use the API."
        )
        self.stdout.write("An API token for a login (printed alone on the last line):")
        self.stdout.write(
            f"  COMPTOIR_DATA_DIR={data_dir} {command} token create agent@comptoir.example"
        )
