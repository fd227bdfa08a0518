"""The demo install: two desks, teams in two time zones, agents, requesters of two organisations,
and a few dozen tickets of every kind, all made through the services so their timelines are real.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F

from comptoir.accounts.models import Membership, Organisation, Site, Team, User
from comptoir.accounts.roles import Role
from comptoir.core.actor import Actor, Channel
from comptoir.desks import calendars
from comptoir.desks.models import Category, Desk, DeskKind
from comptoir.mail.models import Mailbox, OutboundMessage, OutboundStatus
from comptoir.routing.models import Method, RoutingRule
from comptoir.sla import policies
from comptoir.tickets import services
from comptoir.tickets.lifecycle import TicketKind
from comptoir.tickets.models import Comment, Ticket, TicketEvent

PASSWORD = "comptoir-demo"  # noqa: S105 (the published demo password)


@dataclass(frozen=True)
class Login:
    email: str
    role: str


LOGINS = [
    Login("admin@comptoir.example", "administrator (everything, and /admin/)"),
    Login("manager@comptoir.example", "IT desk manager"),
    Login("agent@comptoir.example", "IT agent, Paris service desk"),
    Login("tech@comptoir.example", "IT technician, Montréal service desk"),
    Login("cab@comptoir.example", "change manager (approves changes)"),
    Login("support@comptoir.example", "customer-support agent"),
    Login("alice@comptoir.example", "requester, employee in Paris"),
    Login("jean@boulangerie-martin.example", "requester, customer Boulangerie Martin"),
    Login("sam@northwind.example", "requester, customer Northwind Traders"),
]


def is_loaded() -> bool:
    return Desk.objects.filter(slug="it").exists()


_HASHED: dict[str, str] = {}


def _user(email: str, name: str, org: Organisation, site: Site | None = None, **extra) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        # One hash for every demo account: hashing is slow on purpose, and they share a password.
        if PASSWORD not in _HASHED:
            _HASHED[PASSWORD] = make_password(PASSWORD)
        user = User.objects.create(
            email=email,
            password=_HASHED[PASSWORD],
            display_name=name,
            organisation=org,
            site=site,
            **extra,
        )
    return user


VARIANTS = ["", " (again)", " — Montréal office", " — 2nd floor", " — since Monday", " — urgent"]


def _rounds(items: list, count: int) -> list:
    """``count`` rounds of ``items``; later rounds vary the title so they read as new reports."""
    out = []
    for r in range(count):
        for item in items:
            if isinstance(item, tuple):
                out.append((item[0] + VARIANTS[r % len(VARIANTS)], *item[1:]))
            else:
                out.append(item + VARIANTS[r % len(VARIANTS)])
    return out


def _grant(user: User, desk: Desk, *roles: str) -> None:
    for role in roles:
        Membership.objects.get_or_create(user=user, desk=desk, role=role)


def _categories(desk: Desk, tree: dict[str, list[str]]) -> dict[str, Category]:
    made: dict[str, Category] = {}
    for parent_name, children in tree.items():
        parent = Category.objects.create(desk=desk, name=parent_name, slug=_slug(parent_name))
        made[parent.slug] = parent
        for child in children:
            node = Category.objects.create(
                desk=desk, parent=parent, name=child, slug=f"{parent.slug}-{_slug(child)}"
            )
            made[node.slug] = node
    return made


def _slug(text: str) -> str:
    from django.utils.text import slugify

    return slugify(text)


INCIDENTS = [
    ("Laptop does not start after update", "hardware-laptop"),
    ("Cannot connect to the VPN from home", "network-vpn"),
    ("Outlook keeps asking for my password", "software-email"),
    ("Printer on the 3rd floor jams on every page", "hardware-printer"),
    ("Wi-Fi drops in meeting room Everest", "network-wi-fi"),
    ("ERP very slow since this morning", "software-erp"),
    ("Screen flickers on docking station", "hardware-laptop"),
    ("Shared drive S: not mapped", "network-file-shares"),
    ("Teams calls have no sound", "software-collaboration"),
    ("Locked out after password change", "accounts-access"),
    ("Phone cannot sync mail", "software-email"),
    ("Badge reader refuses my badge", "accounts-access"),
]
REQUESTS = [
    ("New laptop for Camille (starts Monday)", "hardware-laptop"),
    ("Access to the finance shared folder", "accounts-access"),
    ("Install Visio on my workstation", "software-collaboration"),
    ("Second screen for the reception desk", "hardware-laptop"),
    ("Create a mailing list for the sales team", "software-email"),
    ("Guest Wi-Fi codes for the partner workshop", "network-wi-fi"),
    ("VPN access for a contractor", "network-vpn"),
    ("Reset MFA on my new phone", "accounts-access"),
]
PROBLEMS = [
    "Recurring VPN disconnections every 30 minutes",
    "Printers lose their queue after each driver update",
    "ERP slowness at month end",
    "Mail client password prompts after Windows updates",
]
CHANGES = [
    "Upgrade the VPN concentrator firmware",
    "Replace core switch in the Paris server room",
    "Move mail to the new tenant",
    "Patch ERP to version 12.4",
    "Enable MFA for every account",
]
TASKS = [
    "Order replacement toner",
    "Update the printer driver package",
    "Test firmware on the spare concentrator",
    "Document the VPN troubleshooting steps",
    "Prepare the laptop image for new starters",
    "Check backup restore of the finance share",
]
CUSTOMER_ISSUES = [
    ("Invoice 2026-114 shows the wrong VAT", "billing-invoices", "jean"),
    ("Cannot log in to the customer portal", "account-login", "sam"),
    ("Order 88412 arrived damaged", "orders-delivery", "jean"),
    ("How do I export my purchase history?", "account-data", "sam"),
    ("Delivery slot changed without notice", "orders-delivery", "jean"),
    ("Refund not received after return", "billing-refunds", "sam"),
    ("Add a second user to our account", "account-login", "sam"),
    ("Question about the spring price list", "billing-invoices", "jean"),
    ("Product page shows out of stock", "orders-catalogue", "sam"),
    ("Wrong billing address on invoices", "billing-invoices", "jean"),
]


@transaction.atomic
def load(seed: int = 42) -> None:
    rng = random.Random(seed)

    company = Organisation.objects.create(
        name="Comptoir Demo SA",
        slug="comptoir-demo",
        is_internal=True,
        time_zone="Europe/Paris",
        members_see_all_tickets=False,
        email_domains=["comptoir.example"],
    )
    paris = Site.objects.create(
        organisation=company,
        name="Paris HQ",
        address="12 rue du Faubourg, 75010 Paris",
        country="FR",
        time_zone="Europe/Paris",
    )
    montreal = Site.objects.create(
        organisation=company,
        name="Montréal office",
        address="400 rue Saint-Paul, Montréal",
        country="CA",
        time_zone="America/Toronto",
    )
    bakery = Organisation.objects.create(
        name="Boulangerie Martin",
        slug="boulangerie-martin",
        time_zone="Europe/Paris",
        email_domains=["boulangerie-martin.example"],
    )
    lyon = Site.objects.create(
        organisation=bakery, name="Lyon", country="FR", time_zone="Europe/Paris"
    )
    northwind = Organisation.objects.create(
        name="Northwind Traders",
        slug="northwind",
        time_zone="America/New_York",
        is_vip=True,
        email_domains=["northwind.example"],
    )
    nyc = Site.objects.create(
        organisation=northwind, name="New York", country="US", time_zone="America/New_York"
    )

    it = Desk.objects.create(
        name="IT service desk",
        slug="it",
        kind=DeskKind.IT,
        prefix="IT",
        time_zone="Europe/Paris",
        serves_all_sites=False,
        email="it@comptoir.example",
        description="Laptops, accounts, network, software: the company's IT.",
        custom_fields=[
            {"key": "asset_tag", "label": "Asset tag", "type": "string", "max_length": 20},
            {"key": "change_window", "label": "Change window", "type": "date", "kinds": ["change"]},
        ],
    )
    it.served_sites.set([paris, montreal])
    cs = Desk.objects.create(
        name="Customer support",
        slug="support",
        kind=DeskKind.CUSTOMER_SUPPORT,
        prefix="CS",
        time_zone="Europe/Paris",
        serves_all_sites=True,
        email="support@comptoir.example",
        description="Orders, invoices and accounts of our customers.",
        custom_fields=[{"key": "order_number", "label": "Order number", "type": "string"}],
    )

    _user("admin@comptoir.example", "Nadia Admin", company, paris, is_staff=True, is_superuser=True)
    manager = _user("manager@comptoir.example", "Marc Manager", company, paris)
    agent = _user("agent@comptoir.example", "Agnès Agent", company, paris)
    agent2 = _user("paul@comptoir.example", "Paul Martin", company, paris)
    tech = _user(
        "tech@comptoir.example", "Théo Technicien", company, montreal, time_zone="America/Toronto"
    )
    tech2 = _user(
        "lea@comptoir.example", "Léa Tremblay", company, montreal, time_zone="America/Toronto"
    )
    cab = _user("cab@comptoir.example", "Claire Change", company, paris)
    support = _user("support@comptoir.example", "Sophie Support", company, paris)
    support_us = _user(
        "mike@comptoir.example", "Mike Support", company, montreal, time_zone="America/Toronto"
    )
    for user in (agent, agent2, tech2, manager, cab):
        user.time_zone = user.time_zone if user.time_zone != "UTC" else "Europe/Paris"
        user.save(update_fields=["time_zone"])

    paris_team = Team.objects.create(
        desk=it, name="Service desk Paris", slug="paris", time_zone="Europe/Paris", lead=manager
    )
    paris_team.members.set([agent, agent2, manager])
    mtl_team = Team.objects.create(
        desk=it,
        name="Service desk Montréal",
        slug="montreal",
        time_zone="America/Toronto",
        lead=tech,
    )
    mtl_team.members.set([tech, tech2])
    infra = Team.objects.create(
        desk=it, name="Infrastructure", slug="infrastructure", time_zone="Europe/Paris", lead=cab
    )
    infra.members.set([agent2, cab, tech])
    eu = Team.objects.create(
        desk=cs, name="Support Europe", slug="europe", time_zone="Europe/Paris", lead=support
    )
    eu.members.set([support])
    us = Team.objects.create(
        desk=cs,
        name="Support Americas",
        slug="americas",
        time_zone="America/New_York",
        lead=support_us,
    )
    us.members.set([support_us])
    it.default_team = paris_team
    it.save(update_fields=["default_team"])
    cs.default_team = eu
    cs.save(update_fields=["default_team"])

    _grant(manager, it, Role.MANAGER)
    _grant(agent, it, Role.AGENT)
    _grant(agent2, it, Role.AGENT)
    _grant(tech, it, Role.TECHNICIAN)
    _grant(tech2, it, Role.TECHNICIAN)
    _grant(cab, it, Role.CHANGE_MANAGER, Role.AGENT)
    _grant(manager, it, Role.INCIDENT_MANAGER)
    _grant(support, cs, Role.AGENT)
    _grant(support_us, cs, Role.AGENT)
    _grant(manager, cs, Role.MANAGER)

    employees = [_user("alice@comptoir.example", "Alice Durand", company, paris)]
    for first, last, site in [
        ("Bruno", "Petit", paris),
        ("Chloé", "Moreau", paris),
        ("David", "Roy", montreal),
        ("Emma", "Gagnon", montreal),
        ("Farid", "Benali", paris),
        ("Gabrielle", "Côté", montreal),
    ]:
        email = f"{_slug(first)}.{_slug(last)}@comptoir.example"
        employees.append(_user(email, f"{first} {last}", company, site))
    customers = {
        "jean": _user("jean@boulangerie-martin.example", "Jean Martin", bakery, lyon),
        "sam": _user(
            "sam@northwind.example", "Sam Carter", northwind, nyc, time_zone="America/New_York"
        ),
    }
    _user("louise@boulangerie-martin.example", "Louise Martin", bakery, lyon)
    _user("olivia@northwind.example", "Olivia Chen", northwind, nyc, time_zone="America/New_York")

    it_cats = _categories(
        it,
        {
            "Hardware": ["Laptop", "Printer"],
            "Network": ["VPN", "Wi-Fi", "File shares"],
            "Software": ["Email", "ERP", "Collaboration"],
            "Accounts": ["Access"],
        },
    )
    cs_cats = _categories(
        cs,
        {
            "Billing": ["Invoices", "Refunds"],
            "Orders": ["Delivery", "Catalogue"],
            "Account": ["Login", "Data"],
        },
    )
    _business_hours(it, cs, paris_team, mtl_team, infra, eu, us, northwind)
    Mailbox.objects.create(desk=it, address="it@comptoir.example", name="IT service desk")
    Mailbox.objects.create(desk=cs, address="support@comptoir.example", name="Customer support")

    it_staff = [agent, agent2, tech, tech2]
    levels = ["low", "medium", "high"]
    made: list[tuple[Ticket, int]] = []

    def as_(user: User, channel: Channel = Channel.PORTAL) -> Actor:
        return Actor.for_user(user, channel)

    def walk(ticket: Ticket, staff: User, steps: list[str], team: Team | None = None) -> None:
        actor = as_(staff, Channel.WEB)
        for step in steps:
            if step == "assign":
                services.assign_ticket(
                    actor=actor, ticket=ticket, team=team or ticket.team, agent=staff
                )
            elif step == "reply":
                services.add_comment(actor=actor, ticket=ticket, body=rng.choice(REPLIES))
            elif step == "note":
                services.add_comment(
                    actor=actor, ticket=ticket, body=rng.choice(NOTES), public=False
                )
            elif step == "customer":
                services.add_comment(
                    actor=as_(ticket.requester), ticket=ticket, body=rng.choice(CUSTOMER_REPLIES)
                )
            elif step == "resolve":
                services.resolve_ticket(
                    actor=actor, ticket=ticket, resolution=rng.choice(RESOLUTIONS)
                )
            elif step == "close":
                services.close_ticket(actor=as_(ticket.requester), ticket=ticket)
            else:
                services.transition_ticket(actor=actor, ticket=ticket, action=step)

    journeys = [
        [],
        ["assign"],
        ["assign", "start", "note"],
        ["assign", "start", "reply", "wait_for_customer"],
        ["assign", "start", "reply", "wait_for_customer", "customer"],
        ["assign", "start", "wait_for_vendor", "note"],
        ["assign", "start", "reply", "resolve"],
        ["assign", "start", "reply", "resolve", "close"],
        ["assign", "reply", "cancel"],
    ]
    for index, (title, cat) in enumerate(_rounds(INCIDENTS, 2) + _rounds(REQUESTS, 3)):
        kind = TicketKind.INCIDENT if index < 2 * len(INCIDENTS) else TicketKind.SERVICE_REQUEST
        requester = rng.choice(employees)
        channel = rng.choice([Channel.PORTAL, Channel.EMAIL, Channel.PHONE, Channel.WEB])
        by = requester if channel in (Channel.PORTAL, Channel.EMAIL) else rng.choice(it_staff)
        ticket = services.create_ticket(
            actor=as_(by, channel),
            desk=it,
            kind=kind,
            title=title,
            description=f"{title}.\n\nReported by {requester.name}. It worked until last week.",
            impact=rng.choice(levels),
            urgency=rng.choice(levels),
            category=it_cats[cat],
            requester=requester,
            tags=rng.sample(
                ["vpn", "laptop", "urgent", "vip", "onboarding", "printer", "mail"],
                k=rng.randint(0, 2),
            ),
            custom_fields={"asset_tag": f"PC-{rng.randint(1000, 9999)}"}
            if cat.startswith("hardware")
            else {},
        )
        staff = tech if requester.site_id == montreal.pk else rng.choice([agent, agent2])
        team = mtl_team if requester.site_id == montreal.pk else paris_team
        walk(ticket, staff, journeys[index % len(journeys)], team)
        made.append((ticket, rng.randint(0, 20)))

    problems = []
    for index, title in enumerate(_rounds(PROBLEMS, 6)):
        ticket = services.create_ticket(
            actor=as_(manager, Channel.WEB),
            desk=it,
            kind=TicketKind.PROBLEM,
            title=title,
            description="Several incidents share this cause; see the linked tickets.",
            impact="high",
            urgency="medium",
            team=infra,
        )
        walk(
            ticket,
            cab,
            [
                ["investigate"],
                ["investigate", "mark_known_error"],
                ["assign"],
                [],
                ["investigate", "resolve"],
            ][index % 5],
        )
        problems.append(ticket)
        made.append((ticket, rng.randint(5, 30)))
    incidents = [t for t, _ in made if t.kind == TicketKind.INCIDENT]
    services.link_tickets(
        actor=as_(manager, Channel.WEB), ticket=incidents[1], target=problems[0], kind="caused_by"
    )
    services.link_tickets(
        actor=as_(manager, Channel.WEB), ticket=incidents[3], target=problems[1], kind="caused_by"
    )

    change_journeys = [
        [],
        ["submit"],
        ["submit", "approve"],
        ["submit", "approve", "implement"],
        ["submit", "approve", "implement", "resolve"],
    ]
    changes = []
    for index, title in enumerate(_rounds(CHANGES, 5)):
        ticket = services.create_ticket(
            actor=as_(agent2, Channel.WEB),
            desk=it,
            kind=TicketKind.CHANGE,
            title=title,
            description="Plan, rollback and communication are in the attached notes.",
            impact="medium",
            urgency="low",
            team=infra,
            custom_fields={"change_window": "2026-12-12"},
        )
        walk(ticket, cab, change_journeys[index % len(change_journeys)])
        changes.append(ticket)
        made.append((ticket, rng.randint(1, 25)))

    for index, title in enumerate(_rounds(TASKS, 4)):
        parent = changes[index % len(changes)] if index % 2 else problems[index % len(problems)]
        ticket = services.create_ticket(
            actor=as_(cab, Channel.WEB),
            desk=it,
            kind=TicketKind.TASK,
            title=title,
            impact="low",
            urgency="medium",
            team=infra,
            parent=parent,
        )
        walk(
            ticket,
            rng.choice([agent2, tech]),
            [[], ["assign"], ["assign", "start"], ["assign", "start", "resolve"]][index % 4],
        )
        made.append((ticket, rng.randint(0, 10)))

    for index, (title, cat, who) in enumerate(_rounds(CUSTOMER_ISSUES, 3)):
        requester = customers[who]
        ticket = services.create_ticket(
            actor=as_(requester, rng.choice([Channel.PORTAL, Channel.EMAIL])),
            desk=cs,
            kind=TicketKind.INCIDENT if index % 3 else TicketKind.SERVICE_REQUEST,
            title=title,
            description=f"{title}. Could you have a look? Thanks, {requester.name}",
            impact=rng.choice(levels),
            urgency=rng.choice(levels),
            category=cs_cats[cat],
            custom_fields={"order_number": str(rng.randint(80000, 89999))}
            if cat.startswith("orders")
            else {},
        )
        staff, team = (
            (support_us, us) if requester.organisation_id == northwind.pk else (support, eu)
        )
        walk(ticket, staff, journeys[(index + 2) % len(journeys)], team)
        made.append((ticket, rng.randint(0, 15)))

    # A duplicate, merged into its original.
    dup = services.create_ticket(
        actor=as_(employees[0]),
        desk=it,
        kind=TicketKind.INCIDENT,
        title="VPN not working",
        description="Same as my colleagues I think.",
        impact="medium",
        urgency="high",
        category=it_cats["network-vpn"],
    )
    services.merge_tickets(actor=as_(agent, Channel.WEB), source=dup, target=incidents[1])
    made.append((dup, 0))

    _knowledge_base(it, cs, it_cats, cs_cats, manager, agent, northwind, incidents)
    _age(made, rng)
    # The demo's history wrote mail to its people as it went: none of it is for sending.
    OutboundMessage.objects.filter(status=OutboundStatus.PENDING).update(
        status=OutboundStatus.SUPPRESSED, last_error="Demo history: never sent."
    )


def _knowledge_base(
    it: Desk,
    cs: Desk,
    it_cats: dict[str, Category],
    cs_cats: dict[str, Category],
    manager: User,
    agent: User,
    northwind: Organisation,
    incidents: list[Ticket],
) -> None:
    """A few articles per desk, in English and French: public, internal, for one customer, and
    one past its review date."""
    from django.utils import timezone

    from comptoir.kb import services as kb
    from comptoir.kb.models import Article

    writer, editor = Actor.for_user(agent, Channel.WEB), Actor.for_user(manager, Channel.WEB)

    def article(desk, category, visibility, en, fr, orgs=(), tags=()):
        made = kb.create_article(
            actor=writer if desk == it else editor,
            desk=desk,
            language="en",
            title=en[0],
            body=en[1],
            category=category,
            tags=list(tags),
            visibility=visibility,
            organisations=list(orgs),
        )
        if fr:
            kb.add_variant(actor=editor, article=made, language="fr", title=fr[0], body=fr[1])
        kb.publish_article(actor=editor, article=made)
        return made

    vpn = article(
        it,
        it_cats["network-vpn"],
        "public",
        (
            "Connect to the VPN from home",
            "1. Open **GlobalConnect** from the Start menu.\n"
            "2. Sign in with your company address and password.\n"
            "3. Approve the notification on your phone.\n\n"
            "Still no connection? Restart the laptop and try again before opening a ticket.",
        ),
        (
            "Se connecter au VPN depuis chez soi",
            "1. Ouvrez **GlobalConnect** depuis le menu Démarrer.\n"
            "2. Connectez-vous avec votre adresse et votre mot de passe.\n"
            "3. Validez la notification sur votre téléphone.\n\n"
            "Toujours pas de connexion ? Redémarrez l’ordinateur avant d’ouvrir un ticket.",
        ),
        tags=["vpn", "remote work"],
    )
    article(
        it,
        it_cats["hardware-printer"],
        "internal",
        (
            "Printer jams on the 3rd floor: the fix",
            "Open tray 2, remove the grey roller, clean it with the alcohol wipes in the "
            "cupboard, and put it back. Order a new roller after three jams a week.",
        ),
        None,
        tags=["printer"],
    )
    stale = article(
        it,
        it_cats["software-email"],
        "public",
        (
            "Set up your mail on a phone",
            "Install Outlook from the store and sign in with your company address.",
        ),
        (
            "Configurer sa messagerie sur un téléphone",
            "Installez Outlook depuis le magasin d’applications et connectez-vous.",
        ),
    )
    # Past its review date: the lists flag it until a manager marks it reviewed.
    Article.objects.filter(pk=stale.pk).update(review_on=timezone.localdate() - timedelta(days=30))
    article(
        cs,
        cs_cats["account-data"],
        "public",
        (
            "Export your purchase history",
            "In the customer portal, open **Account › Orders** and choose *Export (CSV)*.",
        ),
        (
            "Exporter l’historique de vos achats",
            "Dans le portail client, ouvrez **Compte › Commandes** et choisissez *Exporter (CSV)*.",
        ),
    )
    article(
        cs,
        cs_cats["billing-refunds"],
        "internal",
        (
            "Refunds above 500 EUR",
            "Refunds above 500 EUR need the manager's approval in the ERP before they are paid.",
        ),
        None,
    )
    article(
        cs,
        cs_cats["orders-delivery"],
        "organisations",
        (
            "Northwind: delivery slots",
            "Northwind's deliveries come on Tuesdays and Thursdays, 8:00 to 11:00.",
        ),
        None,
        orgs=[northwind],
    )
    kb.link_article(actor=writer, article=vpn, ticket=incidents[1])


def _weekdays(start: str, end: str) -> list[dict[str, object]]:
    return [{"weekday": day, "start": start, "end": end} for day in range(5)]


def _business_hours(
    it: Desk,
    cs: Desk,
    paris_team: Team,
    mtl_team: Team,
    infra: Team,
    eu: Team,
    us: Team,
    northwind: Organisation,
) -> None:
    """Calendars with public holidays, SLA and OLA policies, follow-the-sun routing."""
    system = Actor.system("demo")
    paris_hours = calendars.create_calendar(
        actor=system,
        name="Paris office",
        time_zone="Europe/Paris",
        openings=_weekdays("08:30", "18:30"),
        holiday_country="FR",
    )
    montreal_hours = calendars.create_calendar(
        actor=system,
        name="Montréal office",
        time_zone="America/Toronto",
        openings=_weekdays("08:00", "18:00"),
        holiday_country="CA",
        holiday_subdivision="QC",
    )
    new_york_hours = calendars.create_calendar(
        actor=system,
        name="New York office",
        time_zone="America/New_York",
        openings=_weekdays("09:00", "17:00"),
        holiday_country="US",
        holiday_subdivision="NY",
    )
    around_the_clock = calendars.create_calendar(
        actor=system, name="24×7", time_zone="UTC", always_open=True
    )
    it.calendar = cs.calendar = paris_hours
    it.save(update_fields=["calendar"])
    cs.save(update_fields=["calendar"])
    for team, hours in (
        (paris_team, paris_hours),
        (mtl_team, montreal_hours),
        (infra, paris_hours),
        (eu, paris_hours),
        (us, new_york_hours),
    ):
        team.calendar = hours
        team.follow_the_sun = team in (paris_team, mtl_team, eu, us)
        team.hand_over_at_shift_end = team.follow_the_sun
        team.save(update_fields=["calendar", "follow_the_sun", "hand_over_at_shift_end"])
    northwind.calendar = new_york_hours
    northwind.save(update_fields=["calendar"])

    hours = 60
    policies.create_policy(
        actor=system,
        desk=it,
        name="Major incidents",
        position=10,
        kinds=["incident"],
        priorities=[1],
        calendar_source="fixed",
        calendar=around_the_clock.pk,
        targets=[
            {"metric": "first_response", "minutes": 15},
            {"metric": "resolution", "minutes": 4 * hours},
        ],
        warn_at=[50, 75, 90],
        breach_raise_priority=False,
    )
    policies.create_policy(
        actor=system,
        desk=it,
        name="Standard IT",
        position=100,
        targets=[
            {"metric": "first_response", "minutes": 4 * hours},
            {"metric": "first_response", "minutes": 1 * hours, "priority": 2},
            {"metric": "next_response", "minutes": 8 * hours},
            {"metric": "resolution", "minutes": 30 * hours},
            {"metric": "resolution", "minutes": 8 * hours, "priority": 2},
            {"metric": "resolution", "minutes": 50 * hours, "priority": 4},
            {"metric": "resolution", "minutes": 100 * hours, "priority": 5},
        ],
    )
    policies.create_policy(
        actor=system,
        desk=it,
        name="Infrastructure OLA",
        scope="ola",
        teams=[infra.pk],
        calendar_source="team",
        targets=[{"metric": "resolution", "minutes": 16 * hours}],
    )
    policies.create_policy(
        actor=system,
        desk=cs,
        name="VIP customers",
        position=10,
        vip_only=True,
        calendar_source="organisation",
        targets=[
            {"metric": "first_response", "minutes": 1 * hours},
            {"metric": "next_response", "minutes": 2 * hours},
            {"metric": "resolution", "minutes": 16 * hours},
        ],
    )
    policies.create_policy(
        actor=system,
        desk=cs,
        name="Customers",
        position=100,
        targets=[
            {"metric": "first_response", "minutes": 8 * hours},
            {"metric": "next_response", "minutes": 8 * hours},
            {"metric": "resolution", "minutes": 40 * hours},
        ],
    )

    network = Category.objects.get(desk=it, slug="network")
    rule = RoutingRule.objects.create(
        desk=it,
        name="Network to the Paris desk",
        position=10,
        team=paris_team,
        method=Method.LEAST_OPEN,
    )
    rule.categories.set([network])
    RoutingRule.objects.create(
        desk=it, name="Everything else", position=100, team=paris_team, method=Method.ROUND_ROBIN
    )
    americas = RoutingRule.objects.create(
        desk=cs,
        name="Customers in the Americas",
        position=10,
        team=us,
        method=Method.ROUND_ROBIN,
    )
    americas.organisations.set([northwind])
    RoutingRule.objects.create(
        desk=cs, name="Other customers", position=100, team=eu, method=Method.ROUND_ROBIN
    )


def _age(made: list[tuple[Ticket, int]], rng: random.Random) -> None:
    """Spread the tickets over the past weeks, keeping each timeline's order."""
    for ticket, days in made:
        if not days:
            continue
        shift = timedelta(days=days, hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=F("created_at") - shift,
            updated_at=F("updated_at") - shift,
        )
        for field in ("first_response_at", "resolved_at", "closed_at"):
            Ticket.objects.filter(pk=ticket.pk, **{f"{field}__isnull": False}).update(
                **{field: F(field) - shift}
            )
        TicketEvent.objects.filter(ticket=ticket).update(created_at=F("created_at") - shift)
        Comment.objects.filter(ticket=ticket).update(created_at=F("created_at") - shift)


REPLIES = [
    "Thanks for the report, I am looking into it now.",
    "Could you send a screenshot of the error message?",
    "I have pushed a fix to your machine; please restart and tell me if it helps.",
    "We are waiting for the vendor's answer and will update you tomorrow.",
]
NOTES = [
    "Same symptom as last month: check the driver version first.",
    "Escalated to the infrastructure team on the chat.",
    "User is on site only on Tuesdays.",
]
CUSTOMER_REPLIES = [
    "Here it is, thanks for the quick answer.",
    "It still happens this morning.",
    "Restarted, and it works now. Thank you!",
]
RESOLUTIONS = [
    "Driver rolled back to the previous version.",
    "Password reset and MFA re-enrolled.",
    "Cable replaced; connection stable for 24 h.",
    "Access granted by the folder owner.",
]
