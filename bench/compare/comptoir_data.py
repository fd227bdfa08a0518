"""Comptoir's side of the comparison: its data, its people, and who signs in how.

The tickets are ``bench/list_tickets.py``'s (the same generator, run into this comparison's own
folder and database, so that the writes of a run never touch that scenario's data). On top of
them: ``agents`` desk agents (seven in ten on IT, the rest on HR) who sign in with a password,
and ``requesters`` portal users in the three organisations, to whom the tickets are handed
round-robin, so that each has a history to list and open. Then the search index is built, as
``comptoir search rebuild`` does after an import.

Driver side: ``dataset`` and ``people``. Django side (Comptoir's virtualenv): ``dj_prepare`` and
``dj_people``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/

import common  # noqa: E402
import list_tickets  # noqa: E402
from common import Target, say  # noqa: E402

THIS = Path(__file__).resolve()
GENERATOR_VERSION = 1
PASSWORD = "bench-password-1"  # noqa: S105 - throwaway accounts on a loopback server


def dataset(
    engine: str, tickets: int, agents: int, requesters: int, pg_name: str, fresh: bool
) -> tuple[Target, dict[str, Any]]:
    folder = common.RESULTS / "data" / f"compare-comptoir-{engine}-{tickets}"
    marker = folder / "dataset.json"
    want = {
        "tickets": tickets,
        "agents": agents,
        "requesters": requesters,
        "seed": list_tickets.SEED,
        "generator": [list_tickets.GENERATOR_VERSION, GENERATOR_VERSION],
        "pg_name": pg_name if engine == "postgres" else None,
    }
    have: dict[str, Any] = {}
    if not fresh and marker.exists():
        have = json.loads(marker.read_text())
        if {k: have.get(k) for k in want} != want or (
            engine == "postgres" and not common.pg_database_exists(pg_name)
        ):
            have = {}
    if have.get("stage") == "done":
        target = Target.create(engine, pg_name=pg_name, data_dir=folder, fresh=False)
        target.throwaway = False
        say(f"Reusing Comptoir's {tickets:,} tickets in {folder.relative_to(common.ROOT)}")
        return target, have
    if have.get("stage") in ("tickets", "people"):  # a run stopped half-way: keep what it made
        target = Target.create(engine, pg_name=pg_name, data_dir=folder, fresh=False)
        target.throwaway = False
        made = have
    else:
        if folder.exists():
            shutil.rmtree(folder)
        target = Target.create(engine, pg_name=pg_name, data_dir=folder, fresh=True)
        target.throwaway = False
        say(f"Generating {tickets:,} Comptoir tickets into {folder.relative_to(common.ROOT)}")
        made = common.django_call(list_tickets.THIS, "generate", target, tickets=tickets)
        made = {**want, **made, "stage": "tickets"}
        marker.write_text(json.dumps(made, indent=2))
    if made["stage"] == "tickets":
        say(f"Tickets made in {made['seconds']} s; now the people")
        people = common.django_call(THIS, "prepare", target, agents=agents, requesters=requesters)
        made = {**made, **people, "stage": "people"}
        marker.write_text(json.dumps(made, indent=2))
    say("Building the search index (comptoir search rebuild)")
    rebuild = common.Timer()
    subprocess.run(
        [str(common.COMPTOIR), "search", "rebuild", "--quiet"],
        env=target.env(),
        cwd=str(common.ROOT),
        check=True,
    )
    info = {**made, "search_rebuild_s": round(rebuild.seconds, 1), "stage": "done"}
    marker.write_text(json.dumps(info, indent=2))
    return target, info


def people(target: Target, agents: int, requesters: int, per_session: int) -> list[dict[str, Any]]:
    """The specs of the simulated people (fresh tokens and portal sessions for this run)."""
    return common.django_call(
        THIS, "people", target, agents=agents, requesters=requesters, per_session=per_session
    )["people"]


# --- Django side -----------------------------------------------------------------------------


def dj_prepare(agents: int, requesters: int) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.db.models import BigIntegerField, Case, F, Value, When
    from django.db.models.functions import Mod
    from django.db.models.lookups import Exact

    from comptoir.accounts.models import Membership, Organisation, User
    from comptoir.accounts.roles import Role
    from comptoir.desks.models import Desk
    from comptoir.tickets.models import Ticket

    desks = {d.slug: d for d in Desk.objects.filter(slug__in=["it", "hr"])}
    orgs = [Organisation.objects.get(slug=slug) for slug in ("bench-corp", "globex", "initech")]
    hashed = make_password(PASSWORD)  # one hash for all: signing in still checks it in full
    with transaction.atomic():
        staff = User.objects.bulk_create(
            [
                User(
                    email=f"staff{i:03d}@bench.test",
                    display_name=f"Staff {i:03d}",
                    organisation=orgs[0],
                    password=hashed,
                )
                for i in range(agents)
            ]
        )
        Membership.objects.bulk_create(
            [
                Membership(
                    user=u, desk=desks["it" if i < agents * 7 // 10 else "hr"], role=Role.AGENT
                )
                for i, u in enumerate(staff)
            ]
        )
        people = User.objects.bulk_create(
            [
                User(
                    email=f"person{i:04d}@bench.test",
                    display_name=f"Person {i:04d}",
                    organisation=orgs[i % len(orgs)],
                    password=hashed,
                )
                for i in range(requesters)
            ]
        )
        ids = sorted(p.pk for p in people)
        if ids != list(range(ids[0], ids[0] + requesters)):
            raise SystemExit("the requesters' ids are not consecutive; cannot hand tickets round")
        slot = Mod(F("id"), Value(requesters))  # ticket → requester ``slot``, round-robin
        org_slot = Mod(slot, Value(len(orgs)))
        Ticket.objects.update(
            requester_id=slot + Value(ids[0]),
            organisation_id=Case(
                *[When(Exact(org_slot, k), then=Value(org.pk)) for k, org in enumerate(orgs)],
                output_field=BigIntegerField(),
            ),
        )
    return {"agents_made": len(staff), "requesters_made": len(people)}


def dj_people(agents: int, requesters: int, per_session: int) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    from comptoir.accounts.models import Membership, User
    from comptoir.accounts.services import create_api_token
    from comptoir.core.actor import Actor, Channel
    from comptoir.tickets.models import Ticket

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    system = Actor.system("bench", Channel.SYSTEM)
    live = ["open", "pending"]
    out: list[dict[str, Any]] = []
    staff = list(User.objects.filter(email__startswith="staff").order_by("email")[:agents])
    desk_of = dict(Membership.objects.filter(user__in=staff).values_list("user_id", "desk__slug"))
    pools = {
        slug: list(
            Ticket.objects.filter(desk__slug=slug, status_category__in=live)
            .order_by("-created_at")
            .values_list("ref", flat=True)[: agents * per_session]
        )
        for slug in ("it", "hr")
    }
    for i, user in enumerate(staff):
        slug = desk_of[user.pk]
        _, raw = create_api_token(actor=system, user=user, name="compare")
        pool = pools[slug]
        out.append(
            {
                "role": "agent",
                "email": user.email,
                "password": PASSWORD,
                "token": raw,
                "desk": slug,
                "tickets": pool[i::agents][:per_session] or pool[:per_session],
            }
        )
    emails = [f"person{i:04d}@bench.test" for i in range(requesters)]
    persons = list(User.objects.filter(email__in=emails).order_by("email"))
    theirs: dict[int, list[str]] = {}
    for requester_id, ref in (
        Ticket.objects.filter(requester__in=persons, status_category__in=live)
        .order_by("-created_at")
        .values_list("requester_id", "ref")
    ):
        theirs.setdefault(requester_id, []).append(ref)
    fallback = dict(
        Ticket.objects.filter(requester__in=persons)
        .order_by("requester_id", "-created_at")
        .values_list("requester_id", "ref")
    )
    for person in persons:
        session = store()
        session[SESSION_KEY] = str(person.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = person.get_session_auth_hash()
        session.create()
        refs = theirs.get(person.pk, [])[:per_session] or [fallback[person.pk]]
        out.append(
            {
                "role": "requester",
                "email": person.email,
                "cookie_name": settings.SESSION_COOKIE_NAME,
                "cookie": session.session_key,
                "desk": "it",
                "tickets": refs,
            }
        )
    return {"people": out}


if __name__ == "__main__":
    if not common.django_child({"prepare": dj_prepare, "people": dj_people}):
        raise SystemExit("run by bench/compare/run.py")
