"""Backups, restores and moving a SQLite install to PostgreSQL, for real.

``comptoir backup``, ``restore`` and ``db copy`` run as processes on data folders of their own,
against real SQLite files and real PostgreSQL databases (``comptoir_ops_*``, created and dropped
here with ``createdb``/``dropdb``), whatever database the suite itself runs on: these tests run
the same in both phases of CI. The tests that need PostgreSQL take the ``postgresql`` fixture,
which skips them, saying why, only where PostgreSQL's programs or server are absent.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.processes import COMPTOIR, comptoir_env

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 24
FILE_BYTES = 48 * 1024


# --- running comptoir -------------------------------------------------------------------------


def comptoir(
    data_dir: Path,
    *args: str,
    database_url: str | None = None,
    path: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """``comptoir ARGS`` on ``data_dir`` (SQLite there, unless ``database_url`` is given)."""
    env = comptoir_env(data_dir)
    env["PYTHONPATH"] = str(ROOT)  # the scripts below build their data with tests.factories
    env["COMPTOIR_EMAIL_BACKEND"] = "console"
    if database_url:
        env["DATABASE_URL"] = database_url
    if path is not None:
        env["PATH"] = path
    done = subprocess.run(
        [str(COMPTOIR), *args], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    if check and done.returncode != 0:
        pytest.fail(f"comptoir {' '.join(args[:2])} failed:\n{done.stdout}\n{done.stderr}")
    return done


def shell(data_dir: Path, script: str, **kwargs: Any) -> Any:
    """Run ``script`` in ``comptoir shell``; it prints JSON on its last line."""
    done = comptoir(data_dir, "shell", "-c", script, **kwargs)
    return json.loads(done.stdout.strip().splitlines()[-1])


SEED = f"""
import io, json, random
from comptoir.accounts.models import Team
from comptoir.accounts.roles import Role
from comptoir.core.actor import Actor
from comptoir.kb import services as kb
from comptoir.tickets import services as tk
from tests.factories import DeskFactory, OrganisationFactory, UserFactory, grant, make_ticket

rng = random.Random(7)
org = OrganisationFactory(name="Acme", slug="acme")
desk = DeskFactory(name="IT", slug="it", prefix="IT")
team = Team.objects.create(desk=desk, name="Service desk", slug="service-desk")
desk.default_team = team  # a desk and its team refer to each other
desk.save(update_fields=["default_team"])
agent = UserFactory(email="agent@acme.test", display_name="Agnès Agent", organisation=org)
grant(agent, desk, Role.AGENT, Role.MANAGER)
staff = Actor.for_user(agent)
people = [UserFactory(email=f"user{{n}}@acme.test", organisation=org) for n in range(4)]
tickets = []
for n in range({TICKETS}):
    ticket = make_ticket(
        desk=desk, requester=people[n % 4], title=f"Printer {{n}} jams on floor {{n % 5}}",
        description=f"Paper jam number {{n}}. Café ☕ ünïcode.", tags=["printer", f"floor-{{n % 5}}"],
    )
    tk.add_comment(actor=staff, ticket=ticket, body=f"Reply {{n}}: try tray 2.")
    tk.add_comment(actor=staff, ticket=ticket, body=f"Note {{n}}: toner low.", public=False)
    tk.add_attachment(
        actor=staff, ticket=ticket,
        upload=tk.Upload(io.BytesIO(rng.randbytes({FILE_BYTES})), f"log-{{n}}.bin"),
    )
    if n % 3 == 0:
        tk.update_ticket(actor=staff, ticket=ticket, changes={{"watchers": [people[(n + 1) % 4]]}})
    tickets.append(ticket)
later = make_ticket(
    desk=desk, requester=people[0], by=agent, kind="problem",
    title="Projector in room Zanzibar flickers",
)
# A reference to a row written after it: the first ticket becomes the child of the last one.
tk.link_tickets(actor=staff, ticket=tickets[0], target=later, kind="parent")
tk.merge_tickets(actor=staff, source=tickets[2], target=tickets[1])
article = kb.create_article(
    actor=staff, desk=desk, language="en", title="Clearing a paper jam",
    body="Open **tray 2** and pull gently.", tags=["printer"], visibility="public",
)
kb.add_variant(actor=staff, article=article, language="fr", title="Débloquer un bourrage",
               body="Ouvrez le bac 2.")
kb.add_article_attachment(
    actor=staff, article=article, upload=kb.Upload(io.BytesIO(b"%PDF-1.4 a guide"), "guide.pdf")
)
kb.submit_article(actor=staff, article=article)
kb.publish_article(actor=staff, article=article)
kb.link_article(actor=staff, article=article, ticket=tickets[0])
print(json.dumps({{"ticket": tickets[0].ref, "later": later.ref}}))
"""

STATE = """
import hashlib, json
from django.apps import apps
from django.core.files.storage import default_storage
counts = {
    m._meta.db_table: m._base_manager.count()
    for m in apps.get_models(include_auto_created=True)
    if m._meta.managed and not m._meta.proxy
}
files = {}
for label in ("tickets.Attachment", "kb.ArticleAttachment"):
    for name, sha in apps.get_model(label)._base_manager.values_list("file", "sha256"):
        found = None
        if default_storage.exists(name):
            with default_storage.open(name, "rb") as stream:
                found = hashlib.sha256(stream.read()).hexdigest()
        files[name] = [sha, found]
Ticket = apps.get_model("tickets", "Ticket")
untold = Ticket.objects.exclude(events__kind="created").count()
print(json.dumps({"counts": counts, "files": files, "tickets_without_creation": untold}))
"""


def state(data_dir: Path, **kwargs: Any) -> dict[str, Any]:
    return shell(data_dir, STATE, **kwargs)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def manifest_of(archive: Path) -> dict[str, Any]:
    if archive.is_dir():
        return json.loads((archive / "manifest.json").read_text())
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return json.loads(member.read())


def tables_of(data_dir: Path) -> int:
    """How many tables the data folder's SQLite database has (0 when it has none, or no file)."""
    path = data_dir / "comptoir.sqlite3"
    if not path.exists():
        return 0
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """A SQLite install with demo-like data: tickets with replies, notes, files, watchers and
    tags, a parent opened after its child, a merge, and a published article in two languages
    with a file."""
    data_dir = tmp_path_factory.mktemp("seeded")
    comptoir(data_dir, "migrate", "--verbosity", "0")
    shell(data_dir, SEED)
    spooled = data_dir / "mail" / "3f" / "3f2a9c.eml"  # a raw message kept in the spool
    spooled.parent.mkdir(parents=True)
    spooled.write_bytes(b"From: alice@acme.test\r\nSubject: Printer\r\n\r\nIt jams.\r\n")
    return data_dir


@pytest.fixture(scope="module")
def archive(seeded, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("archives") / "seeded.tar.gz"
    comptoir(seeded, "backup", "--output", str(path))
    return path


def copy_install(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# --- SQLite: a backup while the server writes ------------------------------------------------


WRITE_DURING_BACKUP = """
import io, json, threading, time
from django.core.management import call_command
from django.db import connection
from comptoir.accounts.models import User
from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.tickets import services as tk
from comptoir.tickets.models import Ticket

stop, written, failures = threading.Event(), [], []

def write():
    try:
        desk = Desk.objects.get(slug="it")
        staff = Actor.for_user(User.objects.get(email="agent@acme.test"))
        requester = User.objects.get(email="user1@acme.test")
        while not stop.is_set():
            n = len(written)
            ticket = tk.create_ticket(
                actor=staff, desk=desk, kind="incident", requester=requester,
                title=f"Written during the backup {n}",
            )
            tk.add_attachment(
                actor=staff, ticket=ticket,
                upload=tk.Upload(io.BytesIO(f"written while backing up {n}".encode() * 50), "w.txt"),
            )
            written.append(ticket.pk)
    except BaseException as exc:
        failures.append(repr(exc))
    finally:
        connection.close()

thread = threading.Thread(target=write, daemon=True)
thread.start()
try:
    while len(written) < 3 and not failures:
        time.sleep(0.01)
    before = Ticket.objects.count()
    call_command("backup", output=OUTPUT)
    after = Ticket.objects.count()
    wanted = len(written) + 3
    while len(written) < wanted and not failures:
        time.sleep(0.01)
finally:
    stop.set()
    thread.join(timeout=60)
print(json.dumps({"before": before, "after": after, "final": Ticket.objects.count(),
                  "failures": failures}))
"""


def test_a_backup_taken_while_tickets_are_written_restores_the_same_counts_and_files(
    seeded, tmp_path
):
    source = copy_install(seeded, tmp_path / "source")
    output = tmp_path / "during.tar.gz"
    seen = shell(source, WRITE_DURING_BACKUP.replace("OUTPUT", repr(str(output))))
    assert seen["failures"] == []
    manifest = manifest_of(output)
    # The copy is one snapshot taken while the writer went on: more tickets than before it
    # started, no more than when it ended, and the writer kept writing afterwards.
    assert seen["before"] <= manifest["counts"]["tickets"] <= seen["after"] < seen["final"]

    restored = tmp_path / "restored"
    answer = comptoir(restored, "restore", str(output))
    assert f"{manifest['counts']['tickets']:,} tickets" in answer.stdout
    after = state(restored)
    counts = after["counts"]
    assert counts["tickets_ticket"] == manifest["counts"]["tickets"]
    assert counts["tickets_comment"] == manifest["counts"]["comments"]
    assert counts["tickets_attachment"] == manifest["counts"]["attachments"]
    assert counts["kb_article"] == manifest["counts"]["articles"]
    assert counts["accounts_user"] == manifest["counts"]["people"]
    # Consistent: every ticket has its creation on the timeline, every file row its bytes.
    assert after["tickets_without_creation"] == 0
    assert after["files"] and all(sha == found for sha, found in after["files"].values())
    # The files are those of the install, byte for byte.
    restored_files = tree(restored / "files")
    original = tree(source / "files")
    assert len(restored_files) == manifest["files"]["count"]
    assert all(original[name] == data for name, data in restored_files.items())
    assert set(after["files"]) <= set(restored_files)
    assert tree(restored / "mail") == tree(source / "mail") != {}


def test_a_folder_backup_replaces_a_database_with_tickets_only_when_told(seeded, tmp_path):
    folder = tmp_path / "backup"
    comptoir(seeded, "backup", "--format", "dir", "--output", str(folder))
    assert (folder / "database" / "comptoir.sqlite3").is_file()
    assert manifest_of(folder)["files"]["count"] == TICKETS + 1

    target = copy_install(seeded, tmp_path / "target")
    with closing(sqlite3.connect(target / "comptoir.sqlite3")) as db:  # the target's own data
        db.execute("UPDATE accounts_organisation SET name = 'Renamed since'")
        db.commit()
    before = state(target)
    refused = comptoir(target, "restore", str(folder), check=False)
    assert refused.returncode != 0
    assert "already holds tickets" in refused.stderr and "--yes" in refused.stderr
    assert state(target) == before
    assert organisations(target) == ["Renamed since"]

    comptoir(target, "restore", str(folder), "--yes")
    assert organisations(target) == ["Acme"]
    assert state(target)["counts"] == state(seeded)["counts"]


def organisations(data_dir: Path) -> list[str]:
    with closing(sqlite3.connect(data_dir / "comptoir.sqlite3")) as db:
        return [name for (name,) in db.execute("SELECT name FROM accounts_organisation")]


def test_restore_waits_for_the_server_to_stop_on_sqlite(seeded, tmp_path, archive):
    target = copy_install(seeded, tmp_path / "running")
    database = target / "comptoir.sqlite3"
    server = sqlite3.connect(database)  # what a running server or worker holds open
    try:
        server.execute("PRAGMA journal_mode=WAL")
        tickets = server.execute("SELECT COUNT(*) FROM tickets_ticket").fetchone()[0]
        refused = comptoir(target, "restore", str(archive), "--yes", check=False)
        assert refused.returncode != 0
        assert "Stop them, then restore" in refused.stderr
        assert server.execute("SELECT COUNT(*) FROM tickets_ticket").fetchone()[0] == tickets
    finally:
        server.close()


def test_an_archive_from_an_older_comptoir_is_brought_up_to_date(seeded, tmp_path):
    old = copy_install(seeded, tmp_path / "old")
    comptoir(old, "migrate", "workspace", "zero", "--verbosity", "0")  # as before workspace
    output = tmp_path / "old.tar.gz"
    comptoir(old, "backup", "--output", str(output))
    assert "workspace" not in manifest_of(output)["migrations"]

    restored = tmp_path / "restored"
    comptoir(restored, "restore", str(output))
    assert comptoir(restored, "migrate", "--check", check=False).returncode == 0
    after = state(restored)
    assert after["counts"]["workspace_savedfilter"] == 0
    assert after["counts"]["tickets_ticket"] == TICKETS + 1


# --- Refusals ---------------------------------------------------------------------------------


def rewrite(archive: Path, output: Path, *, extra=None, manifest=None, change=None) -> Path:
    """A copy of ``archive`` with one hostile member added first, its manifest edited, or a
    member's bytes changed."""
    with tarfile.open(archive) as source, tarfile.open(output, "w:gz") as target:
        if extra is not None:
            info, data = extra
            target.addfile(info, io.BytesIO(data) if data is not None else None)
        for info in source.getmembers():
            data = source.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "manifest.json" and manifest is not None:
                edited = json.loads(data)
                manifest(edited)
                data = json.dumps(edited).encode()
            elif change is not None and info.name.startswith("files/") and change[0] is None:
                data = b"tampered" + data[8:]
                change[0] = info.name
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))
    return output


def member(name: str, *, kind: bytes = tarfile.REGTYPE, data: bytes = b"hostile", link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


HOSTILE = {
    "a path going up": lambda tmp: member("files/../../escaped.txt"),
    "an absolute path": lambda tmp: member(str(tmp / "escaped.txt")),
    "a symbolic link": lambda tmp: member(
        "files/attachments/link", kind=tarfile.SYMTYPE, link=str(tmp / "escaped.txt")
    ),
    "a hard link": lambda tmp: member("files/passwd", kind=tarfile.LNKTYPE, link="/etc/passwd"),
    "a device": lambda tmp: member("files/null", kind=tarfile.CHRTYPE),
    "a name outside the layout": lambda tmp: member("secret_key"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_member_is_refused_before_anything_is_written(case, archive, tmp_path):
    hostile = rewrite(archive, tmp_path / "hostile.tar.gz", extra=HOSTILE[case](tmp_path))
    target = tmp_path / "target"
    refused = comptoir(target, "restore", str(hostile), check=False)
    assert refused.returncode != 0
    assert "Refused" in refused.stderr and "Nothing was restored" in refused.stderr
    assert not (tmp_path / "escaped.txt").exists()
    assert tables_of(target) == 0
    assert not (target / "files").exists()


def test_an_archive_cut_short_or_altered_is_refused(archive, tmp_path):
    cut = tmp_path / "cut.tar.gz"
    data = archive.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    altered = rewrite(archive, tmp_path / "altered.tar.gz", change=[None])
    for broken, words in ((cut, "cut short"), (altered, "differ from its manifest")):
        target = tmp_path / broken.stem
        refused = comptoir(target, "restore", str(broken), check=False)
        assert refused.returncode != 0
        assert words in refused.stderr
        assert tables_of(target) == 0
        assert not (target / "files").exists()


def test_a_folder_backup_holding_a_link_is_refused(seeded, tmp_path):
    folder = tmp_path / "backup"
    comptoir(seeded, "backup", "--format", "dir", "--output", str(folder))
    (folder / "files" / "attachments" / "link").symlink_to("/etc/passwd")
    target = tmp_path / "target"
    refused = comptoir(target, "restore", str(folder), check=False)
    assert refused.returncode != 0
    assert "symbolic link" in refused.stderr
    assert tables_of(target) == 0


def test_an_archive_from_a_newer_comptoir_is_refused_with_what_to_do(archive, tmp_path):
    def newer(manifest):
        manifest["comptoir_version"] = "9.0.0"
        manifest["migrations"]["tickets"].append("0099_from_the_future")

    future = rewrite(archive, tmp_path / "future.tar.gz", manifest=newer)
    target = tmp_path / "target"
    refused = comptoir(target, "restore", str(future), check=False)
    assert refused.returncode != 0
    assert "newer Comptoir (9.0.0)" in refused.stderr
    assert "tickets.0099_from_the_future" in refused.stderr
    assert "Install Comptoir 9.0.0 or later" in refused.stderr
    assert tables_of(target) == 0


def test_a_backup_never_overwrites_an_existing_file(seeded, tmp_path):
    output = tmp_path / "taken.tar.gz"
    output.write_bytes(b"precious")
    refused = comptoir(seeded, "backup", "--output", str(output), check=False)
    assert refused.returncode != 0 and "already exists" in refused.stderr
    assert output.read_bytes() == b"precious"


# --- PostgreSQL -------------------------------------------------------------------------------


class PostgreSQL:
    """A server to make throwaway ``comptoir_ops_*`` databases on."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.env = {
            **os.environ,
            "PGHOST": parts.hostname or "127.0.0.1",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": parts.username or "postgres",
        }
        if parts.password:
            self.env["PGPASSWORD"] = parts.password
        self.made: list[str] = []

    def create(self) -> str:
        name = f"comptoir_ops_{uuid.uuid4().hex[:10]}"
        subprocess.run(["createdb", name], env=self.env, check=True, capture_output=True)
        self.made.append(name)
        return f"{self.base}/{name}"

    def drop_all(self) -> None:
        for name in self.made:
            subprocess.run(
                ["dropdb", "--if-exists", "--force", name], env=self.env, capture_output=True
            )


def _server_url() -> str:
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith(("postgres://", "postgresql://")):
        return given
    return "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def postgresql():
    """PostgreSQL for these tests: the suite's server when it runs on one, else the local one."""
    for program in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed: these tests need PostgreSQL's programs")
    server = PostgreSQL(_server_url())
    probe = (
        subprocess.run(
            ["psql", "-d", "postgres", "-tAc", "SELECT 1"],
            env=server.env,
            capture_output=True,
            text=True,
        )
        if shutil.which("psql")
        else None
    )
    if probe is not None and probe.returncode != 0:
        pytest.skip(f"no PostgreSQL server answers at {server.base}: {probe.stderr.strip()}")
    yield server
    server.drop_all()


@pytest.fixture(scope="module")
def copied(seeded, postgresql) -> dict[str, Any]:
    """The seeded SQLite install copied into an empty PostgreSQL database."""
    url = postgresql.create()
    before = state(seeded)
    indexed = documents_written(seeded)
    answer = comptoir(seeded, "db", "copy", "--to", url, "--batch-size", "7")
    return {"url": url, "before": before, "stdout": answer.stdout, "indexed": indexed}


def documents_written(data_dir: Path) -> list[tuple]:
    """When each of the SQLite install's ticket documents was last written."""
    with closing(sqlite3.connect(data_dir / "comptoir.sqlite3")) as db:
        return db.execute(
            "SELECT ticket_id, indexed_at FROM search_ticketdocument ORDER BY ticket_id"
        ).fetchall()


def test_db_copy_moves_every_row_and_says_so(seeded, copied):
    after = state(seeded, database_url=copied["url"])
    assert after["counts"] == copied["before"]["counts"]
    assert after["counts"]["tickets_ticket"] == TICKETS + 1
    # The files stay where they are, and the target's rows name them.
    assert after["files"] == copied["before"]["files"]
    out = copied["stdout"]
    assert "tickets_ticket" in out and f"{TICKETS + 1}/{TICKETS + 1}" in out
    assert "every table's count matches" in out
    assert f"tickets: {TICKETS + 1} indexed" in out  # search rebuilt on the target
    assert "Files were not copied" in out


TICKET = """
import json
from django.apps import apps
from comptoir.tickets.models import Attachment, Comment, Ticket, TicketEvent
ticket = Ticket.objects.get(ref=REF)
fields = {f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields}
fields["tags"] = sorted(ticket.tags.values_list("name", flat=True))
fields["watchers"] = sorted(ticket.watchers.values_list("email", flat=True))
fields["comments"] = list(Comment.objects.filter(ticket=ticket).order_by("pk").values_list())
fields["events"] = list(TicketEvent.objects.filter(ticket=ticket).order_by("pk").values_list())
fields["files"] = list(Attachment.objects.filter(ticket=ticket).order_by("pk").values_list())
links = apps.get_model("kb", "TicketArticle").objects.filter(ticket=ticket).order_by("pk")
fields["articles"] = list(links.values_list())
print(json.dumps(fields, default=str, sort_keys=True))
"""


@pytest.mark.parametrize(
    "ref",
    [
        "IT-000001",  # a child of a ticket opened after it, with a linked article
        "IT-000003",  # merged into another
        f"IT-{TICKETS + 1:06d}",  # the parent, opened last
    ],
)
def test_db_copy_reads_a_ticket_back_equal_field_by_field(seeded, copied, ref):
    script = TICKET.replace("REF", repr(ref))
    here = shell(seeded, script)
    there = shell(seeded, script, database_url=copied["url"])
    assert here == there
    assert here["created_at"] and here["events"]


NEXT = """
import json
from django.db.models import Max
from comptoir.accounts.models import User
from comptoir.core.actor import Actor
from comptoir.desks.models import Desk
from comptoir.tickets import services as tk
from comptoir.tickets.models import Comment, Ticket
highest = {"ticket": Ticket.objects.aggregate(m=Max("pk"))["m"],
           "comment": Comment.objects.aggregate(m=Max("pk"))["m"]}
requester = User.objects.get(email="user1@acme.test")
ticket = tk.create_ticket(actor=Actor.for_user(requester), desk=Desk.objects.get(slug="it"),
                          kind="incident", title="The first ticket on PostgreSQL")
comment = tk.add_comment(actor=Actor.for_user(requester), ticket=ticket, body="Hello.")
print(json.dumps({"highest": highest, "ticket": ticket.pk, "comment": comment.pk,
                  "ref": ticket.ref}))
"""


def test_db_copy_sets_the_sequences_past_the_copied_ids(seeded, copied, postgresql):
    # On a copy of the copy, so the other tests read the copy as it was made.
    url = postgresql.create()
    comptoir(seeded, "db", "copy", "--to", url)
    made = shell(seeded, NEXT, database_url=url)
    assert made["ticket"] == made["highest"]["ticket"] + 1
    assert made["comment"] == made["highest"]["comment"] + 1
    assert made["ref"] == f"IT-{TICKETS + 2:06d}"


def test_db_copy_rebuilds_search_on_the_target_and_leaves_the_source_alone(seeded, copied):
    """The rebuild's jobs write on the target, each on a connection of its own, never on the
    SQLite install being copied."""
    assert "tickets: " in copied["stdout"] and " indexed in " in copied["stdout"]
    assert documents_written(seeded) == copied["indexed"]


def test_db_copy_leaves_search_working_on_postgresql(seeded, copied):
    found = comptoir(seeded, "search", "query", "zanzibar", database_url=copied["url"])
    assert f"IT-{TICKETS + 1:06d}" in found.stdout
    found = comptoir(seeded, "search", "query", "bourrage", database_url=copied["url"])
    assert "Débloquer un bourrage" in found.stdout


def test_db_copy_refuses_a_target_that_holds_tickets(seeded, copied):
    refused = comptoir(seeded, "db", "copy", "--to", copied["url"], check=False)
    assert refused.returncode != 0
    assert "already holds tickets" in refused.stderr
    assert state(seeded, database_url=copied["url"])["counts"] == copied["before"]["counts"]


def test_a_backup_and_restore_on_postgresql_keep_every_row_and_file(
    seeded, copied, postgresql, tmp_path
):
    output = tmp_path / "pg.tar.gz"
    comptoir(seeded, "backup", "--output", str(output), database_url=copied["url"])
    manifest = manifest_of(output)
    assert manifest["engine"] == "postgresql"
    assert manifest["counts"]["tickets"] == TICKETS + 1

    target_url = postgresql.create()
    restored = tmp_path / "restored"
    comptoir(restored, "restore", str(output), database_url=target_url)
    after = state(restored, database_url=target_url)
    assert after["counts"] == state(seeded, database_url=copied["url"])["counts"]
    assert all(sha == found for sha, found in after["files"].values())
    assert tree(restored / "files") == tree(seeded / "files")
    found = comptoir(restored, "search", "query", "zanzibar", database_url=target_url)
    assert f"IT-{TICKETS + 1:06d}" in found.stdout

    # Restoring again over it needs --yes, and then replaces it.
    refused = comptoir(restored, "restore", str(output), database_url=target_url, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    comptoir(restored, "restore", str(output), "--yes", database_url=target_url)
    assert state(restored, database_url=target_url)["counts"] == after["counts"]


def test_a_sqlite_archive_is_not_restored_into_postgresql(archive, postgresql, tmp_path):
    url = postgresql.create()
    refused = comptoir(tmp_path / "target", "restore", str(archive), database_url=url, check=False)
    assert refused.returncode != 0
    assert "SQLite database" in refused.stderr and "comptoir db copy" in refused.stderr


def test_a_backup_without_pg_dump_says_what_to_install(seeded, copied, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    output = tmp_path / "none.tar.gz"
    refused = comptoir(
        seeded,
        "backup",
        "--output",
        str(output),
        database_url=copied["url"],
        path=str(empty),
        check=False,
    )
    assert refused.returncode != 0
    assert "pg_dump was not found on the PATH" in refused.stderr
    assert "postgresql-client" in refused.stderr
    assert not output.exists() and list(tmp_path.glob(".none*")) == []


def test_a_backup_with_a_pg_dump_older_than_the_server_is_refused(seeded, copied, tmp_path):
    # A stand-in for an old pg_dump, which cannot be installed beside the real one here.
    old = tmp_path / "old-bin"
    old.mkdir()
    fake = old / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    output = tmp_path / "old.tar.gz"
    refused = comptoir(
        seeded,
        "backup",
        "--output",
        str(output),
        database_url=copied["url"],
        path=f"{old}{os.pathsep}{os.environ.get('PATH', '')}",
        check=False,
    )
    assert refused.returncode != 0
    assert "is version 9.6.24, older than the PostgreSQL server" in refused.stderr
    assert not output.exists()
