"""The mail intake killed at random moments loses nothing and makes nothing twice.

Real processes on a real SQLite file in a throwaway data folder. A corpus of distinct messages
from fifty senders (about half of them replies to an earlier message, by ``In-Reply-To``; some
with a small attachment) goes through ``comptoir.mail.services.receive`` in a long-lived child
process that prints each file's name once ``receive`` has returned. The test kills that child
with SIGKILL at random moments (seeded), then starts another on the files not confirmed yet,
the one that was in flight included: it may or may not have been stored, recorded or processed,
which is the point. Once every file is confirmed, ``comptoir mail process`` finishes whatever
was stored but left unprocessed, and the database is read back: one row per message, one ticket
per new message, one public comment per reply on the ticket its thread began, one
acknowledgement per ticket, every attachment once, every spool file whole.

Size: 1000 messages by default (about 70 s on two cores, a third of it the ~30 starts of
Django); ``COMPTOIR_CRASH_MESSAGES`` sets another size, ``COMPTOIR_CRASH_SEED`` another draw.
The kills are spread over the run so that there are at least ``MIN_KILLS`` of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

COMPTOIR = Path(sys.executable).with_name("comptoir")
MAILBOX = "it@crash.test"
MESSAGES = int(os.environ.get("COMPTOIR_CRASH_MESSAGES") or 1000)
SEED = int(os.environ.get("COMPTOIR_CRASH_SEED") or 20240611)
SENDERS = 50
MIN_KILLS = 20  # holds for corpora of 100 messages or more
READY_TIMEOUT = 120  # Django's start on a busy machine
STALL_TIMEOUT = 120  # one message, at most

# The long-lived child: Django once, then one ``receive`` per file, its name printed after.
DRIVER = """
import sys
from pathlib import Path

import django

django.setup()

from comptoir.mail.models import Mailbox
from comptoir.mail.services import receive

box = Mailbox.objects.get(address=sys.argv[1])
folder = Path(sys.argv[2])
names = Path(sys.argv[3]).read_text().split()
print("ready", flush=True)
for name in names:
    receive((folder / name).read_bytes(), mailbox=box, source="pipe")
    print(name, flush=True)
print("done", flush=True)
"""

# Read back everything the run made, as JSON on the last line.
REPORT = """
import hashlib
import json

import django

django.setup()

from django.conf import settings

from comptoir.mail.models import InboundMessage, OutboundMessage
from comptoir.tickets.models import Attachment, Comment, Ticket

messages = [
    {
        "message_id": m.message_id,
        "status": m.status,
        "reason": m.reason,
        "sha256": m.sha256,
        "spool_path": m.spool_path,
        "attempts": m.attempts,
        "ticket": m.ticket.ref if m.ticket else None,
        "comment": m.comment_id,
    }
    for m in InboundMessage.objects.select_related("ticket").order_by("id")
]
tickets = {
    t.ref: {"title": t.title, "description": t.description, "requester": t.requester.email}
    for t in Ticket.objects.select_related("requester")
}
comments = {
    c.pk: {
        "ticket": c.ticket.ref,
        "body": c.body,
        "public": c.public,
        "channel": c.channel,
        "author": c.author.email if c.author else None,
    }
    for c in Comment.objects.select_related("ticket", "author")
}
attachments = []
for a in Attachment.objects.select_related("ticket"):
    data = a.file.read() if a.file.storage.exists(a.file.name) else None
    attachments.append(
        {
            "ticket": a.ticket.ref,
            "comment": a.comment_id,
            "filename": a.filename,
            "whole": data is not None and hashlib.sha256(data).hexdigest() == a.sha256,
        }
    )
outbound = [
    {"ticket": o.ticket.ref if o.ticket else None, "kind": o.kind, "to": o.to}
    for o in OutboundMessage.objects.select_related("ticket")
]
print(json.dumps({
    "spool": str(settings.COMPTOIR_MAIL_SPOOL_DIR),
    "media": str(settings.MEDIA_ROOT),
    "messages": messages,
    "tickets": tickets,
    "comments": comments,
    "attachments": attachments,
    "outbound": outbound,
}))
"""


@dataclass
class Mail:
    name: str
    message_id: str
    sender: str
    token: str
    subject: str
    root: int  # the index of the message that opened the thread
    in_reply_to: str = ""
    attachment: bytes | None = None


@dataclass
class Run:
    kills: int = 0
    starts: int = 0
    landed: Counter[str] = field(default_factory=Counter)  # where the kills found the message
    seconds: float = 0.0


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("COMPTOIR_")
    }
    env.update(
        COMPTOIR_DATA_DIR=str(data_dir),
        COMPTOIR_MAIL_RATE_LIMIT="100000",
        COMPTOIR_LOG_LEVEL="CRITICAL",
        DJANGO_SETTINGS_MODULE="comptoir.config.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def _comptoir(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [str(COMPTOIR), *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def corpus(count: int, rng: random.Random) -> list[Mail]:
    """``count`` distinct messages; about half of them answer an earlier one (any of them)."""
    senders = [f"person{n:02d}@site{n % 7}.crash-senders.test" for n in range(SENDERS)]
    mails: list[Mail] = []
    for index in range(count):
        token = f"C{index:06d}x{rng.randrange(16**6):06x}"
        message_id = f"{token.lower()}@crash-senders.test"
        attachment = rng.randbytes(rng.randint(200, 4000)) if rng.random() < 0.1 else None
        if index >= 3 and rng.random() < 0.5:
            earlier = mails[rng.randrange(index)]
            root = mails[earlier.root]
            mails.append(
                Mail(
                    name=f"{index:06d}.eml",
                    message_id=message_id,
                    sender=root.sender,  # the requester answers their own thread
                    token=token,
                    subject=f"Re: {root.subject}",
                    root=earlier.root,
                    in_reply_to=earlier.message_id,
                    attachment=attachment,
                )
            )
        else:
            mails.append(
                Mail(
                    name=f"{index:06d}.eml",
                    message_id=message_id,
                    sender=rng.choice(senders),
                    token=token,
                    subject=f"Crash test {index}: the screen is blank",
                    root=index,
                    attachment=attachment,
                )
            )
    return mails


def render(mail: Mail) -> bytes:
    m = EmailMessage()
    m["From"] = mail.sender
    m["To"] = MAILBOX
    m["Subject"] = mail.subject
    m["Date"] = format_datetime(datetime.now(UTC))
    m["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        m["In-Reply-To"] = f"<{mail.in_reply_to}>"
        m["References"] = f"<{mail.in_reply_to}>"
        m.set_content(f"Still the same here, see {mail.token}.\n")
    else:
        m.set_content(f"Nothing shows on the screen since this morning. Token {mail.token}.\n")
    if mail.attachment is not None:
        m.add_attachment(
            mail.attachment,
            maintype="application",
            subtype="octet-stream",
            filename=f"{mail.token}.bin",
        )
    return bytes(m)


class Child:
    """One driver process; its stdout lines arrive on a queue (None at the end)."""

    def __init__(self, work: Path, data_dir: Path, names: list[str]):
        listing = work / "pending.txt"
        listing.write_text("\n".join(names))
        self.log = work / "driver.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(work / "driver.py"),
                    MAILBOX,
                    str(work / "corpus"),
                    str(listing),
                ],
                env=_env(data_dir),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.endswith("\n"):  # a line cut by the kill confirms nothing
                self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self, timeout: float) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            pytest.fail(f"the driver said nothing for {timeout:.0f} s")
        if line is None:  # only our kill may end it early
            self.proc.wait(timeout=30)
            pytest.fail(
                f"the driver died ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}"
            )
        return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def rest(self) -> list[str]:
        """The lines printed before the end (the kill) not read yet, to the end of the pipe."""
        out = []
        while (line := self.lines.get(timeout=30)) is not None:
            out.append(line)
        return out


def where_killed(data_dir: Path, path: Path) -> str:
    """How far the message in flight got when the driver died (read without Django)."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if not (data_dir / "mail" / digest[:2] / f"{digest}.eml").exists():
        return "not stored"
    db = sqlite3.connect(f"file:{data_dir / 'comptoir.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        found = db.execute(
            "SELECT status FROM mail_inboundmessage WHERE sha256 = ?", (digest,)
        ).fetchone()
    finally:
        db.close()
    return "stored, no row" if found is None else f"row {found[0]}"


def feed_with_kills(work: Path, data_dir: Path, names: list[str], rng: random.Random) -> Run:
    """Feed every file, killing the driver at random moments, until each one is confirmed."""
    run = Run()
    pending = list(names)
    # Spread the kills over the corpus: each run of the driver confirms about a fortieth of it.
    share = max(1, len(names) // (2 * MIN_KILLS))
    per_message = 0.02  # seconds; measured as the run goes
    started = time.monotonic()
    while pending:
        child = Child(work, data_dir, pending)
        run.starts += 1
        assert child.next_line(READY_TIMEOUT) == "ready"
        kill = run.kills < MIN_KILLS or (len(pending) > 1 and rng.random() < 0.9)
        # With a kill, at least one message is left to be in flight when it lands.
        goal = rng.randint(0, min(2 * share, len(pending) - 1)) if kill else len(pending)
        confirmed = 0
        first_at = time.monotonic()
        while confirmed < goal:
            line = child.next_line(STALL_TIMEOUT)
            assert line == pending[0], f"{line} confirmed, {pending[0]} expected"
            pending.pop(0)
            confirmed += 1
        if confirmed:
            per_message = 0.7 * per_message + 0.3 * (time.monotonic() - first_at) / confirmed
        if kill:
            # Somewhere inside the next message: spool write, row, parse or the transaction.
            time.sleep(rng.uniform(0, 1.5 * per_message))
            child.kill()
            run.kills += 1
        else:
            child.proc.wait(timeout=STALL_TIMEOUT)
        for line in child.rest():
            if line != "done":  # printed before the kill landed: confirmed all the same
                assert line == pending[0], f"{line} confirmed, {pending[0]} expected"
                pending.pop(0)
        if kill and pending:  # the first file not confirmed is the one the kill cut
            run.landed[where_killed(data_dir, work / "corpus" / pending[0])] += 1
        if not kill:
            assert child.proc.returncode == 0, child.log.read_text()[-3000:]
    run.seconds = time.monotonic() - started
    return run


@pytest.fixture
def install(tmp_path) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _comptoir(data_dir, "migrate", "--noinput")
    _comptoir(
        data_dir,
        "shell",
        "-c",
        "from comptoir.desks.models import Desk; from comptoir.mail.models import Mailbox; "
        "desk = Desk.objects.create(name='IT', slug='it', prefix='IT', time_zone='UTC'); "
        f"Mailbox.objects.create(desk=desk, address='{MAILBOX}', name='IT')",
    )
    return data_dir


def test_killed_intake_loses_nothing_and_makes_nothing_twice(install, tmp_path):
    rng = random.Random(SEED)
    mails = corpus(MESSAGES, rng)
    folder = tmp_path / "corpus"
    folder.mkdir()
    raw_of = {}
    for mail in mails:
        raw = render(mail)
        raw_of[mail.message_id] = raw
        (folder / mail.name).write_bytes(raw)
    (tmp_path / "driver.py").write_text(DRIVER)
    (tmp_path / "report.py").write_text(REPORT)

    run = feed_with_kills(tmp_path, install, [m.name for m in mails], rng)
    finished = _comptoir(install, "mail", "process")
    report = subprocess.run(
        [sys.executable, str(tmp_path / "report.py")],
        env=_env(install),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    state = json.loads(report.stdout.strip().splitlines()[-1])
    leftovers = len(list(Path(state["spool"]).rglob("*.tmp")))
    stored_files = [p for p in (Path(state["media"]) / "attachments").rglob("*") if p.is_file()]
    print(
        f"\n{len(mails)} messages, {run.kills} kills over {run.starts} driver starts in "
        f"{run.seconds:.1f} s; the message in flight was: {dict(run.landed)}; "
        f"`mail process`: {finished.strip()}; partial spool files left: {leftovers}; "
        f"attachment files without a row (cut transactions): "
        f"{len(stored_files) - len(state['attachments'])}"
    )

    assert run.kills >= MIN_KILLS

    # Every message is exactly one row, processed; none lost, none recorded twice.
    rows = state["messages"]
    by_id = {row["message_id"]: row for row in rows}
    assert len(rows) == len(by_id) == len(mails)
    assert set(by_id) == {m.message_id for m in mails}
    assert [r for r in rows if r["status"] != "processed"] == []

    # Every new message opened one ticket; every reply is one public comment on its thread's.
    new = [(i, m) for i, m in enumerate(mails) if m.root == i]
    replies = [m for i, m in enumerate(mails) if m.root != i]
    tickets, comments = state["tickets"], state["comments"]
    assert len(tickets) == len(new)
    assert len(comments) == len(replies)
    ref_of: dict[int, str] = {}
    for index, mail in new:
        row = by_id[mail.message_id]
        assert row["comment"] is None
        ticket = tickets[row["ticket"]]
        assert ticket["title"] == mail.subject
        assert mail.token in ticket["description"]
        assert ticket["requester"] == mail.sender
        ref_of[index] = row["ticket"]
    assert len(set(ref_of.values())) == len(new)  # no two messages opened the same ticket
    for mail in replies:
        row = by_id[mail.message_id]
        assert row["ticket"] == ref_of[mail.root], mail.message_id
        comment = comments[str(row["comment"])]
        assert comment["ticket"] == ref_of[mail.root]
        assert mail.token in comment["body"]
        assert (comment["public"], comment["channel"], comment["author"]) == (
            True,
            "email",
            mail.sender,
        )
    assert len({by_id[m.message_id]["comment"] for m in replies}) == len(replies)
    # Thread by thread, by Message-ID: the ticket holds the replies of its thread, each once.
    expected_thread: dict[str, list[str]] = {ref: [] for ref in tickets}
    for mail in replies:
        expected_thread[ref_of[mail.root]].append(mail.token)
    found_thread: dict[str, list[str]] = {ref: [] for ref in tickets}
    for comment in comments.values():
        found_thread[comment["ticket"]].append(comment["body"].rsplit(" ", 1)[-1].rstrip("."))
    assert {ref: sorted(tokens) for ref, tokens in found_thread.items()} == {
        ref: sorted(tokens) for ref, tokens in expected_thread.items()
    }

    # One acknowledgement per ticket, to its requester; nothing else went out.
    acks = [o for o in state["outbound"] if o["kind"] == "acknowledgement"]
    assert sorted(o["ticket"] for o in acks) == sorted(tickets)
    assert all(o["to"] == [tickets[o["ticket"]]["requester"]] for o in acks)
    assert len(state["outbound"]) == len(acks)

    # Every attachment once, on the right ticket (and comment), its bytes whole.
    expected_files = {f"{m.token}.bin": m for m in mails if m.attachment is not None}
    files = state["attachments"]
    assert sorted(a["filename"] for a in files) == sorted(expected_files)
    for attachment in files:
        mail = expected_files[attachment["filename"]]
        assert attachment["whole"]
        assert attachment["ticket"] == ref_of[mail.root]
        assert attachment["comment"] == by_id[mail.message_id]["comment"]

    # The spool: every message's file is there, whole; every stored file is a whole message.
    spool = Path(state["spool"])
    for row in rows:
        data = (spool / row["spool_path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert data == raw_of[row["message_id"]]
    stored = [path for path in spool.rglob("*") if path.is_file()]
    whole = [path for path in stored if path.suffix == ".eml"]
    assert len(whole) == len(mails)
    for path in whole:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem
    # A write cut by the kill leaves only its hidden temporary file, never a named message.
    assert all(p.name.startswith(".") and p.suffix == ".tmp" for p in set(stored) - set(whole))
