"""``comptoir token create|list|revoke``: API tokens from the command line."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from comptoir.accounts.models import ApiToken
from comptoir.accounts.selectors import resolve_person
from comptoir.accounts.services import create_api_token, revoke_api_token
from comptoir.core.actor import Actor, Channel


class Command(BaseCommand):
    help = "Create, list or revoke API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(
            "create", help="Create a token; it is printed alone on the last line."
        )
        create.add_argument("email")
        create.add_argument("--name", default="cli", help="What the token is for.")
        create.add_argument("--days", type=int, default=None, help="Expire after this many days.")
        listing = sub.add_parser("list", help="List a person's tokens.")
        listing.add_argument("email")
        revoke = sub.add_parser("revoke", help="Revoke a token by id.")
        revoke.add_argument("id", type=int)

    def handle(self, *args, action, **options):
        actor = Actor.system("command line", Channel.SYSTEM)
        if action == "revoke":
            token = ApiToken.objects.filter(pk=options["id"]).select_related("user").first()
            if token is None:
                raise CommandError(f"No token {options['id']}.")
            revoke_api_token(actor=actor, token=token)
            self.stdout.write(f"Token {token.pk} ({token.name}) of {token.user.email} revoked.")
            return
        user = resolve_person(options["email"])
        if user is None:
            raise CommandError(f"No active person {options['email']!r}.")
        if action == "list":
            for token in user.api_tokens.all():
                state = (
                    "revoked"
                    if token.revoked_at
                    else ("expired" if not token.is_usable else "active")
                )
                self.stdout.write(
                    f"{token.pk}\t{token.name}\t…{token.hint}\t{state}\t"
                    f"expires {token.expires_at or 'never'}\tlast used {token.last_used_at or 'never'}"
                )
            return
        days = options["days"]
        if days is not None and days <= 0:
            raise CommandError("--days must be positive.")
        expires = timezone.now() + timedelta(days=days) if days else None
        token, raw = create_api_token(
            actor=actor, user=user, name=options["name"], expires_at=expires
        )
        self.stderr.write(f"Token {token.pk} for {user.email} (shown once; keep it safe):")
        self.stdout.write(raw)
