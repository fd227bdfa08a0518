"""``comptoir createadmin``: a superuser, interactively or from ``--email`` and ``--password``."""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email


class Command(BaseCommand):
    help = "Create an administrator (or promote an existing person)."

    def add_arguments(self, parser):
        parser.add_argument("--email", help="The administrator's email (asked if missing).")
        parser.add_argument(
            "--password", help="Their password (asked if missing; prefer the prompt)."
        )
        parser.add_argument("--name", default="", help="Display name.")

    def handle(self, *args, email=None, password=None, name="", **options):
        interactive = sys.stdin.isatty()
        if not email:
            if not interactive:
                raise CommandError("--email is required when not run in a terminal.")
            email = input("Email: ").strip()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"{email!r} is not a valid email address.") from exc
        email = email.lower()
        User = get_user_model()
        user = User.objects.filter(email__iexact=email).first()
        if not password:
            if not interactive:
                raise CommandError("--password is required when not run in a terminal.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            validate_password(password, user or User(email=email))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if user is None:
            user = User.objects.create_superuser(email=email, password=password, display_name=name)
            self.stdout.write(self.style.SUCCESS(f"Administrator {email} created."))
        else:
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            if name:
                user.display_name = name
            user.save()
            self.stdout.write(
                self.style.SUCCESS(f"{email} is now an administrator; password updated.")
            )
