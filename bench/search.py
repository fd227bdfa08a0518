#!/usr/bin/env python3
"""Full-text search at a million tickets: the typical query with a visibility filter, and rebuild.

    .venv/bin/python bench/search.py --database sqlite   [--tickets 1000000] [--fresh]
    .venv/bin/python bench/search.py --database postgres [--tickets 1000000] [--fresh]

Data (kept in ``bench/results/data/search-<engine>/``, or the PostgreSQL database
``comptoir_bench_search``, and reused by later runs; ``--fresh`` makes it again): ``--tickets``
tickets on two desks (70/30), each about 2 kB of text with its replies: a title, a description
and two or three replies, one in five of them an internal note, in English (two thirds) or
French, drawn from an IT-support vocabulary (350 English words, 230 French, then a long tail of 20,000
made-up words standing for names, hosts and codes) with a Zipf distribution (a few
words are in most tickets, most words in few); 2,000 requesters in 50 organisations; 10,000
knowledge articles. Rows are written with ``INSERT … SELECT``-free bulk inserts through the
driver, then the index is built by ``comptoir search rebuild``'s own code
(``indexing.rebuild``), which is timed: that is the rebuild figure, in tickets per second.

Measured, in-process (Django, no HTTP), one query at a time, once the tables a search reads
are in the operating system's cache (``warm_cache``: a server answering searches all day, not
one just rebooted) and after one warm-up pass:

* *agent*: ``search.selectors.search(actor, q, kinds=("ticket",), limit=20)`` as an agent of the
  larger desk (visibility: the desk's 700k tickets), the whole call: candidates, visibility
  through the visibility rule, the 20 records, highlights;
* *requester*: the same as a requester who sees the tickets of their organisation (1 of 50);
* *baseline*: the bare ``MATCH … LIMIT 20`` (SQLite) or ``@@ … LIMIT 20`` (PostgreSQL) with
  the same match expression, no visibility, through the bare cursor; and, for scale, the same
  with every match ranked (``ORDER BY rank`` / ``ORDER BY ts_rank``).

The queries: ``--queries`` (200) of one to three words, drawn from the vocabulary's ranks 20 to
3,000 by Zipf weights (what people type: past the few words in nearly every ticket), the same
list for all. Targets: p95 ≤ 50 ms and within 1.5× of the bare query.

The agent's search and the bare query are timed in turn, query by query, three times over (the
order alternating), so that the ratio of their p95 compares them under the same conditions;
the ratio of each round is printed too. The others are timed one pass each.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import common
from common import say

SCENARIO = "search"
THIS = Path(__file__).resolve()
PG_NAME = "comptoir_bench_search"
#: Times each query is searched and matched bare, in turn (``dj_measure``'s ``paired``).
PAIRED_ROUNDS = 3


def words_of(text: str) -> list[str]:
    return text.split()


ENGLISH = words_of(
    """printer toner paper jam tray cartridge scanner copier print queue spooler driver
laptop desktop screen monitor display keyboard mouse dock docking station battery charger power
adapter cable usb hdmi displayport bluetooth headset webcam microphone speaker audio sound
network wifi wireless ethernet switch router firewall vpn proxy dns dhcp ip address subnet
gateway latency bandwidth outage slow timeout connection disconnect drops reconnect signal
access password reset locked account login logon sign single sso mfa token authenticator
phone sms code expired expire permission permissions group share folder drive file files
server mailbox email outlook calendar meeting invite teams chat channel call video conference
license licence subscription install installation uninstall update upgrade patch version
release rollback deploy deployment backup restore snapshot disk storage quota full space
memory cpu fan noise overheating blue error crash freeze frozen hang restart reboot boot bios
firmware driver windows linux mac macos ios android tablet mobile sim roaming onboarding
offboarding new starter leaver hardware software application app browser chrome firefox edge
cache cookie certificate ssl expired warning popup virus malware phishing spam quarantine
suspicious link attachment encrypted encryption bitlocker recovery key request approval
manager budget order purchase delivery asset inventory tag serial number warranty repair
replace replacement broken cracked damaged lost stolen spare loan return desk office floor
building room projector badge door access card parking remote home working shift weekend
urgent asap critical high priority blocked blocking cannot unable working works again fixed
issue problem incident ticket user users customer client team colleague department finance
hr payroll sales marketing support helpdesk service technician engineer admin administrator
database sql report dashboard export import csv excel sheet spreadsheet word document pdf
template form portal website intranet sharepoint wiki page link url site domain dns record
migration migrate sync synchronisation synchronization calendar contacts notes backup
monitoring alert alarm threshold disk space log logs event audit compliance policy gdpr
retention archive delete deleted recover recovered undo mistake accident training question
how what why where when which please thanks thank hello regards morning afternoon since
yesterday today tomorrow week monday tuesday wednesday thursday friday minutes hours every
time times again still always never sometimes randomly intermittent constant"""
)

FRENCH = words_of(
    """imprimante toner papier bourrage bac cartouche scanner copieur impression file
pilote portable ordinateur écran moniteur affichage clavier souris station batterie chargeur
alimentation câble casque webcam micro haut-parleur son réseau wifi sans fil filaire
commutateur routeur pare-feu vpn proxy adresse passerelle latence débit panne lent lenteur
délai connexion déconnexion coupure reconnexion signal accès mot de passe réinitialisation
verrouillé compte identifiant authentification jeton téléphone code expiré droits groupe
partage dossier lecteur fichier fichiers serveur messagerie courriel agenda réunion
invitation appel visio conférence licence abonnement installation désinstallation mise à
jour correctif version sauvegarde restauration disque stockage quota plein espace mémoire
processeur ventilateur bruit surchauffe erreur plantage bloqué figé redémarrage démarrage
tablette mobile arrivée départ nouvel nouvelle matériel logiciel application navigateur
certificat avertissement virus logiciel malveillant hameçonnage pourriel lien pièce jointe
chiffrement clé récupération demande validation responsable commande achat livraison
inventaire numéro série garantie réparation remplacement cassé endommagé perdu volé prêt
bureau étage bâtiment salle vidéoprojecteur badge porte carte parking télétravail urgent
critique priorité bloquant impossible fonctionne encore résolu incident problème ticket
utilisateur utilisateurs client équipe collègue service comptabilité paie ventes support
technicien ingénieur administrateur base rapport tableau export import document modèle
formulaire portail site intranet migration synchronisation contacts surveillance alerte
seuil journal événement conformité politique archive supprimé récupéré erreur formation
question comment pourquoi où quand merci bonjour cordialement matin après-midi depuis hier
aujourd'hui demain semaine lundi mardi mercredi jeudi vendredi heures minutes toujours
jamais parfois aléatoire intermittent"""
)

TICKET_KINDS = ("incident", "request")


def zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, n + 1)]


def made_up_words(count: int, seed: int) -> list[str]:
    """Words of two to four syllables that no language has: the long tail of a desk's
    vocabulary (product, host, place and people's names, error codes…)."""
    rng = random.Random(seed)
    consonants, vowels = "bcdfgklmnprstvz", "aeiou"
    made: dict[str, None] = {}
    while len(made) < count:
        syllables = rng.randint(2, 4)
        made["".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))] = None
    return list(made)


#: Words of the long tail, shared by both languages.
TAIL = made_up_words(20_000, seed=3)


class Writer:
    """Text of a given length from a vocabulary, words drawn by Zipf weights: the language's
    common words first, then the long tail."""

    def __init__(self, words: list[str], rng: random.Random) -> None:
        self.words = words + TAIL
        self.weights = zipf_weights(len(self.words), 1.1)
        self.cum = []
        total = 0.0
        for w in self.weights:
            total += w
            self.cum.append(total)
        self.rng = rng

    def text(self, count: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum, k=count))

    def sentence_block(self, count: int) -> str:
        text = self.text(count)
        return text[:1].upper() + text[1:] + "."


# --- Django side: data ----------------------------------------------------------------------


def dj_generate(tickets: int, articles: int, seed: int = 7, batch: int = 20_000) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from comptoir.accounts.models import Membership, Organisation, User
    from comptoir.accounts.roles import Role
    from comptoir.desks.models import Desk
    from comptoir.kb.models import Article, ArticleVariant
    from comptoir.search.models import ArticleDocument, PersonDocument, TicketDocument
    from comptoir.tickets.models import Comment, Ticket

    started = time.perf_counter()
    world = common.setup_world(desks=[("IT", "it", "IT"), ("Facilities", "fac", "FAC")])
    rng = random.Random(seed)
    english, french = Writer(ENGLISH, rng), Writer(FRENCH, rng)
    now = timezone.now()
    orgs = [
        Organisation.objects.get_or_create(
            slug=f"org-{i}", defaults={"name": f"Org {i}", "members_see_all_tickets": True}
        )[0]
        for i in range(50)
    ]
    requesters = list(
        User.objects.bulk_create(
            [
                User(
                    email=f"user{i}@org{i % 50}.test",
                    display_name=f"{english.text(1).title()} {french.text(1).title()} {i}",
                    organisation=orgs[i % 50],
                    locale="fr" if i % 3 == 0 else "en",
                    password="!",  # noqa: S106
                )
                for i in range(2000)
            ]
        )
    )
    desks = {d.slug: d for d in Desk.objects.filter(slug__in=["it", "fac"])}
    agent = User.objects.get(pk=world["agent_id"])
    Membership.objects.filter(user=agent).exclude(desk=desks["it"]).delete()
    Membership.objects.get_or_create(user=agent, desk=desks["it"], role=Role.AGENT)
    adapt = connection.ops.adapt_datetimefield_value
    tickets_table, comments_table = Ticket._meta.db_table, Comment._meta.db_table
    numbers = {"it": 0, "fac": 0}
    text_bytes = 0
    # Triggers keep the index while the rows are written by the services; for this bulk
    # load the documents are written afterwards, by the rebuild that is timed.
    TicketDocument.objects.all().delete()
    for first in range(0, tickets, batch):
        count = min(batch, tickets - first)
        ticket_rows, comment_rows = [], []
        for i in range(first, first + count):
            desk = "it" if rng.random() < 0.7 else "fac"
            numbers[desk] += 1
            number = numbers[desk]
            requester = requesters[rng.randrange(len(requesters))]
            writer = french if requester.locale == "fr" else english
            title = writer.text(rng.randint(4, 9)).capitalize()
            description = writer.sentence_block(rng.randint(60, 110))
            when = adapt(now)
            ticket_rows.append(
                (
                    desks[desk].pk,
                    number,
                    f"{desks[desk].prefix}-{number:06d}",
                    TICKET_KINDS[i % 2],
                    "in_progress",
                    "open",
                    title,
                    description,
                    "",
                    requester.pk,
                    requester.organisation_id,
                    "web",
                    "medium",
                    "medium",
                    3,
                    False,
                    "",
                    "{}",
                    "",
                    when,
                    when,
                    False,
                )
            )
            text_bytes += len(title) + len(description)
            for reply in range(rng.randint(2, 3)):
                body = writer.sentence_block(rng.randint(50, 90))
                text_bytes += len(body)
                comment_rows.append((i, body, reply % 5 != 4 or rng.random() < 0.2))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {tickets_table} (desk_id, number, ref, kind, status, "  # noqa: S608
                "status_category, title, description, description_html, requester_id, "
                "organisation_id, channel, impact, urgency, priority, priority_overridden, "
                "priority_reason, custom_fields, resolution, created_at, updated_at, "
                "sla_breached) VALUES (" + ", ".join(["%s"] * 22) + ")",
                ticket_rows,
            )
            cursor.execute(
                f"SELECT id FROM {tickets_table} ORDER BY id DESC LIMIT %s",  # noqa: S608
                [count],
            )
            ids = sorted(row[0] for row in cursor.fetchall())
            cursor.executemany(
                f"INSERT INTO {comments_table} (ticket_id, author_label, body, body_html, "  # noqa: S608
                "public, channel, created_at) VALUES (%s, '', %s, '', %s, 'web', %s)",
                [(ids[i - first], body, public, adapt(now)) for i, body, public in comment_rows],
            )
        print(f"{first + count:,} tickets", flush=True)
    for slug, last in numbers.items():
        Desk.objects.filter(pk=desks[slug].pk).update(last_number=last)
    made_articles = []
    for i in range(articles):
        article = Article.objects.create(
            desk=desks["it" if i % 10 < 7 else "fac"],
            visibility="public" if i % 3 else "internal",
            status="published",
            created_at=now,
            updated_at=now,
        )
        made_articles.append(article)
    ArticleVariant.objects.bulk_create(
        [
            ArticleVariant(
                article=article,
                language="fr" if i % 4 == 0 else "en",
                title=(french if i % 4 == 0 else english).text(6).capitalize(),
                slug=f"article-{article.pk}",
                body=(french if i % 4 == 0 else english).sentence_block(250),
                updated_at=now,
            )
            for i, article in enumerate(made_articles)
        ]
    )
    ArticleDocument.objects.all().delete()
    PersonDocument.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Every table, as autovacuum does on a live server: the people's too, whose
            # statistics decide how a page of tickets is joined to its requesters.
            cursor.execute("ANALYZE")
    return {
        "tickets": tickets,
        "articles": articles,
        "text_mib": round(text_bytes / 2**20, 1),
        "bytes_per_ticket": round(text_bytes / max(tickets, 1)),
        "seconds": round(time.perf_counter() - started, 1),
    }


def dj_rebuild(jobs: int = 1) -> dict[str, Any]:
    from django.db import connection

    from comptoir.search import indexing

    figures: dict[str, Any] = {"jobs": jobs}
    for kind in indexing.KINDS:
        began = time.perf_counter()
        done = indexing.rebuild(kind, batch_size=5000, jobs=jobs)
        seconds = time.perf_counter() - began
        figures[kind] = {
            "count": done,
            "seconds": round(seconds, 1),
            "per_s": round(done / seconds),
        }
        print(f"{kind}: {done:,} in {seconds:.1f} s ({done / seconds:,.0f}/s)", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE search_ticketdocument; ANALYZE search_articledocument")
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO search_ticketdocument_fts(search_ticketdocument_fts) "
                "VALUES ('optimize')"
            )
    return figures


# --- Django side: queries -------------------------------------------------------------------


def make_queries(count: int, seed: int) -> list[str]:
    """What people type: words of the vocabulary's ranks 20 to 3,000 (past the few words in
    nearly every ticket), by Zipf weights."""
    rng = random.Random(seed)
    pool_en, pool_fr = (ENGLISH + TAIL)[20:3000], (FRENCH + TAIL)[20:3000]
    queries = []
    for _ in range(count):
        pool = pool_fr if rng.random() < 0.3 else pool_en
        weights = zipf_weights(len(pool), 0.8)
        words = rng.choices(pool, weights=weights, k=rng.choice((1, 2, 2, 2, 3)))
        queries.append(" ".join(dict.fromkeys(words)))
    return queries


def warm_cache() -> int:
    """Read what a search reads into the operating system's cache, once: the steady state of a
    server that has been answering searches, not the first searches after a reboot, which
    read the disk (on a machine whose cache has not seen the tables, an agent's p95 was 20–30
    ms higher on PostgreSQL: docs/performance.md). PostgreSQL: the tickets' documents, their
    indexes and the tickets (``pg_prewarm`` in ``read`` mode: the OS cache only, not
    PostgreSQL's buffers); SQLite: the database file. Returns the MiB read."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "sqlite":
        path = Path(settings.DATABASES["default"]["NAME"])
        with path.open("rb") as file:
            while file.read(1 << 24):
                pass
        return round(path.stat().st_size / 2**20)
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute(
            "SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) * 8 / 1024 FROM pg_class c "
            "WHERE c.relname IN ('search_ticketdocument', 'tickets_ticket') "
            "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN "
            "('search_ticketdocument'::regclass, 'tickets_ticket'::regclass))"
        )
        return int(cursor.fetchone()[0])


def dj_measure(queries: list[str]) -> dict[str, Any]:
    from django.db import connection

    from comptoir.accounts.models import User
    from comptoir.core.actor import Actor
    from comptoir.search import fulltext, selectors
    from comptoir.search.backends import Scope, backend
    from comptoir.search.query import read

    engine = backend()
    agent = Actor.for_user(User.objects.get(email="agent@bench.test"))
    requester = Actor.for_user(User.objects.filter(email__startswith="user7@").get())
    index = fulltext.TICKETS

    def bare(text: str, ranked: bool = False) -> list[int]:
        """The match alone through the bare cursor: no visibility; ``ranked``: every match
        scored and sorted, as a full-ranking search would."""
        words = read(text)
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(
                    f"SELECT rowid FROM {index.fts} WHERE {index.fts} MATCH %s "  # noqa: S608
                    + ("ORDER BY rank " if ranked else "")
                    + "LIMIT 20",
                    [engine.match(words, Scope())],
                )
            else:
                query = engine.tsquery(words, staff_text=True)
                cursor.execute(
                    f"SELECT ticket_id FROM {index.table} WHERE vector @@ %s::tsquery "  # noqa: S608
                    + ("ORDER BY ts_rank(vector, %s::tsquery) DESC " if ranked else "")
                    + "LIMIT 20",
                    [query, query] if ranked else [query],
                )
            return [row[0] for row in cursor.fetchall()]

    def timed(run, label: str) -> dict[str, Any]:
        for text in queries[:20]:  # warm-up
            run(text)
        times, found = [], 0
        for text in queries:
            began = time.perf_counter()
            result = run(text)
            times.append(time.perf_counter() - began)
            found += len(result)
        stats = common.summary(times)
        print(
            f"  {label:<28} {common.fmt_latency(stats)}   results/query {found / len(queries):.1f}"
        )
        return {**stats, "results_per_query": round(found / len(queries), 1)}

    def paired(runs: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
        """Each query through each of ``runs`` in turn, ``PAIRED_ROUNDS`` times, the order
        alternating from one query to the next: the search and the query it is compared with
        timed under the same conditions, a moment apart. Timed one pass after the other, the
        machine's drift between the passes (its cache, its neighbours) moved the ratio of
        their p95 from 0.99 to 2.04 between two runs of the same code."""
        names = list(runs)
        for text in queries[:20]:  # warm-up
            for name in names:
                runs[name](text)
        times: dict[str, list[float]] = {name: [] for name in names}
        rounds: list[dict[str, list[float]]] = []
        found = dict.fromkeys(names, 0)
        for turn in range(PAIRED_ROUNDS):
            this = {name: [] for name in names}
            for n, text in enumerate(queries):
                for name in names if (n + turn) % 2 == 0 else names[::-1]:
                    began = time.perf_counter()
                    result = runs[name](text)
                    this[name].append(time.perf_counter() - began)
                    found[name] += len(result) if turn == 0 else 0
            rounds.append(this)
            for name in names:
                times[name] += this[name]
        figures: dict[str, Any] = {}
        for name in names:
            stats = common.summary(times[name])
            per_query = round(found[name] / len(queries), 1)
            print(f"  {labels[name]:<28} {common.fmt_latency(stats)}   results/query {per_query}")
            figures[name] = {**stats, "results_per_query": per_query}
        first, second = names
        figures["p95_ratio_by_round"] = [
            round(common.summary(r[first])["p95_ms"] / common.summary(r[second])["p95_ms"], 2)
            for r in rounds
        ]
        return figures

    warmed = warm_cache()
    print(f"  read {warmed:,} MiB into the OS cache first")
    meter = common.CpuMeter(postgres=connection.vendor == "postgresql")
    compared = paired(
        {
            "agent": lambda q: selectors.search(agent, q, kinds=("ticket",)).tickets,
            "bare": bare,
        },
        {"agent": "agent of the IT desk", "bare": "bare match, LIMIT 20"},
    )
    figures = {
        "bare": compared["bare"],
        "agent": compared["agent"],
        "agent_to_bare_p95_by_round": compared["p95_ratio_by_round"],
        "bare_ranked": timed(lambda q: bare(q, ranked=True), "bare match, all ranked"),
        "requester": timed(
            lambda q: selectors.search(requester, q, kinds=("ticket",)).tickets,
            "requester (organisation)",
        ),
        "articles_agent": timed(
            lambda q: selectors.search(agent, q, kinds=("article",)).articles, "articles, agent"
        ),
    }
    figures["cpu"] = meter.stop()
    figures["warmed_mib"] = warmed
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            figures["database_mib"] = round(pages * cursor.fetchone()[0] / 2**20)
        else:
            cursor.execute("SELECT pg_database_size(current_database())")
            figures["database_mib"] = round(cursor.fetchone()[0] / 2**20)
    return figures


# --- driver ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument(
        "--rebuild", action="store_true", help="time the rebuild again on the kept data"
    )
    parser.add_argument("--quiet-wait", type=float, default=120)
    parser.add_argument(
        "--jobs",
        type=int,
        help="rebuild: connections writing at once (PostgreSQL; by default as the command's)",
    )
    args = parser.parse_args()
    if args.jobs is None:
        args.jobs = min(os.cpu_count() or 1, 4) if args.database == "postgres" else 1

    folder = common.BENCH / "results" / "data" / f"search-{args.database}"
    marker = folder / "dataset.json"
    reuse = (
        not args.fresh
        and marker.exists()
        and json.loads(marker.read_text()).get("tickets") == args.tickets
    )
    if reuse and args.database == "postgres":
        reuse = common.pg_database_exists(PG_NAME)
    target = common.Target.create(args.database, pg_name=PG_NAME, data_dir=folder, fresh=not reuse)
    target.throwaway = False
    record: dict[str, Any] = {"engine": args.database}
    if reuse:
        record["data"] = json.loads(marker.read_text())
        say(f"reusing {args.tickets:,} tickets on {args.database}")
        if args.rebuild:
            common.wait_quiet(args.quiet_wait)
            meter = common.CpuMeter(postgres=args.database == "postgres")
            record["data"]["rebuild"] = common.django_call(THIS, "rebuild", target, jobs=args.jobs)
            record["data"]["rebuild_cpu"] = meter.stop()
            marker.write_text(json.dumps(record["data"]))
    else:
        say(f"generating {args.tickets:,} tickets and {args.articles:,} articles…")
        made = common.django_call(
            THIS, "generate", target, tickets=args.tickets, articles=args.articles
        )
        say(f"generated in {made['seconds']} s: {made['text_mib']} MiB of text")
        say("rebuilding the search index (indexing.rebuild, what `comptoir search rebuild` runs)…")
        common.wait_quiet(args.quiet_wait)
        meter = common.CpuMeter(postgres=args.database == "postgres")
        made["rebuild"] = common.django_call(THIS, "rebuild", target, jobs=args.jobs)
        made["rebuild_cpu"] = meter.stop()
        marker.write_text(json.dumps(made))
        record["data"] = made
    rebuild = record["data"]["rebuild"]["tickets"]
    say(
        f"rebuild: {rebuild['count']:,} tickets in {rebuild['seconds']} s, "
        f"{rebuild['per_s']:,} tickets/s ({record['data']['rebuild'].get('jobs', 1)} jobs)"
    )
    queries = make_queries(args.queries, args.seed)
    common.wait_quiet(args.quiet_wait)
    say(f"{len(queries)} queries, e.g. {queries[:5]}")
    figures = common.django_call(THIS, "measure", target, queries=queries)
    record["figures"] = figures
    ratio = figures["agent"]["p95_ms"] / max(figures["bare"]["p95_ms"], 1e-9)
    rounds = ", ".join(f"{r:.2f}×" for r in figures["agent_to_bare_p95_by_round"])
    say(
        f"agent p95 {figures['agent']['p95_ms']:.1f} ms (target ≤ 50), "
        f"{ratio:.2f}× the bare query's p95 (target ≤ 1.5×; each round: {rounds}); requester p95 "
        f"{figures['requester']['p95_ms']:.1f} ms; others used "
        f"{figures['cpu']['others_share']:.0%} of the machine"
    )
    info = common.machine(target)
    common.print_machine(info)
    record["machine"] = info
    path = common.append_result(SCENARIO, record)
    say(f"recorded in {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    if not common.django_child(
        {"generate": dj_generate, "rebuild": dj_rebuild, "measure": dj_measure}
    ):
        main()
