#!/usr/bin/env python3
"""Mail intake: messages per second through the whole pipeline, and the memory it takes.

    .venv/bin/python bench/mail.py                       # SQLite, 1000 messages
    .venv/bin/python bench/mail.py --database postgres

The pipeline is ``comptoir.mail.services.receive``, the function behind every door (the MTA
pipe, the inbound API): the spool write with its fsyncs, the row, ``parse_message``, threading,
the ticket or the comment with its attachments, the acknowledgement in the outbox (and its job
queued after commit). It runs in one process, one message after another, each message read from
its file just before, on a corpus generated here (seeded):

* mostly short plain-text mails (a few lines, a signature, sometimes a person in Cc),
* some HTML (text and HTML alternatives, or HTML only),
* some with one or two attachments of 50 KB – 2 MB (PDF, PNG, DOCX-like bytes; log-uniform),
* a few replies to an earlier message (``In-Reply-To``/``References``, quoted history),
* a few forwarded messages (inline, or attached as ``message/rfc822``),

from 200 senders; the per-sender hourly limit is lifted for the run (the corpus is one burst).
A warm-up corpus goes through first and is not counted.

Baseline, in the same run, process and corpus: a bare
``email.message_from_bytes(raw, policy=email.policy.default)`` over the same files (best of
three); the ratio is the pipeline's time over the baseline's. Also shown, to say where the time
goes: ``spool.store`` alone (write, fsync, rename, fsync of the folder) and ``parse_message``
alone over the same corpus.

Memory: a second pass on a fresh database (so that nothing is "already received") with
``tracemalloc`` on, apart from the timed pass since tracing slows Python down threefold; over the
ten largest messages of the corpus and others drawn at random (``--memory-messages``, 200; 0 for
the whole corpus), in the corpus's order: the peak of the Python heap above where it stood before
the pass, and each message's own peak, against the size of the largest message. Baseline: the
peak of a bare ``email.message_from_bytes`` of the largest message. ``ru_maxrss`` before and
after the timed pass is printed too (it counts C memory as well, and never goes down).

Targets: at least 100 messages/s on SQLite; a peak under three times the largest message.
One JSON line per run goes to ``bench/results/mail.jsonl``. The pipeline's own CPU time per
message is printed beside the rate: on a machine shared with others it moves less than the rate.

``--without search,kb`` is an experiment, not a figure of Comptoir: it runs the pipeline
without those apps' event subscribers and signal receivers (here, the search index written with
each ticket and contact, and the knowledge base's check after each ticket), to see what they
cost the intake.
"""

from __future__ import annotations

import argparse
import math
import random
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import common
from common import Target, say

SCENARIO = "mail"
THIS = Path(__file__).resolve()
MAILBOX = "it@bench.test"
TARGET_RATE_SQLITE = 100  # messages/s
TARGET_MEMORY_FACTOR = 3  # peak / largest message
KINDS = ("text", "html", "attachments", "reply", "forward")
WEIGHTS = (0.62, 0.12, 0.10, 0.11, 0.05)

FIRST = ["Anna", "Bruno", "Chloé", "David", "Emma", "Farid", "Giulia", "Hugo", "Inès", "Jonas"]
LAST = ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Nguyen", "Schmidt", "Rossi"]
DOMAINS = ["acme.example", "globex.example", "initech.example", "umbrella.example"]
PROBLEMS = [
    "The printer on the {n} floor jams after every second page",
    "Cannot connect to the VPN since the update",
    "Outlook asks for my password again and again",
    "Request: a second screen for the new colleague",
    "The meeting room projector shows no signal",
    "My laptop battery lasts less than an hour",
    "Access to the shared folder Finance/{n} is denied",
    "Teams calls drop after a few minutes",
]
SENTENCES = [
    "It started this morning, right after I logged in.",
    "I already restarted the computer twice, it did not help.",
    "Several colleagues in my team see the same thing.",
    "The error message says the server is not reachable.",
    "Could someone have a look before the end of the week?",
    "I attached what I could, tell me if you need more.",
    "It worked fine yesterday evening.",
    "This blocks the monthly closing, so it is rather urgent for us.",
    "I am working from home today, you can call me on my mobile.",
    "The asset tag on the machine is PC-{n:05d}.",
]
ATTACHMENT_TYPES = [
    ("application", "pdf", "report-{n}.pdf", b"%PDF-1.7\n"),
    ("image", "png", "screenshot-{n}.png", b"\x89PNG\r\n\x1a\n"),
    (
        "application",
        "vnd.openxmlformats-officedocument.wordprocessingml.document",
        "notes-{n}.docx",
        b"PK\x03\x04",
    ),
]


# --- the corpus (driver side, standard library only) -------------------------------------------


def _paragraph(rng: random.Random, lines: int) -> str:
    return "\n".join(rng.choice(SENTENCES).format(n=rng.randrange(10**5)) for _ in range(lines))


def _signature(name: str, rng: random.Random) -> str:
    return f"\n-- \n{name}\nPhone +33 1 {rng.randrange(10**8):08d}\n"


def make_corpus(folder: Path, count: int, seed: int, tag: str) -> list[dict[str, Any]]:
    """``count`` messages written to ``folder``; returns one description per file, in order."""
    rng = random.Random(f"{seed}:{tag}")
    folder.mkdir(parents=True, exist_ok=True)
    senders = []
    for n in range(200):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = unicodedata.normalize("NFKD", f"{first}.{last}{n}").encode("ascii", "ignore")
        senders.append((f"{first} {last}", f"{local.decode().lower()}@{rng.choice(DOMAINS)}"))
    opened: list[dict[str, Any]] = []
    described = []
    start = datetime(2025, 3, 3, 8, tzinfo=UTC)
    for index in range(count):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == "reply" and not opened:
            kind = "text"
        m = EmailMessage()
        name, address = rng.choice(senders)
        subject = rng.choice(PROBLEMS).format(n=rng.randrange(1, 9))
        message_id = f"{tag}.{index:06d}.{rng.randrange(16**8):08x}@{address.partition('@')[2]}"
        when = start + timedelta(seconds=37 * index)
        text = f"Hello,\n\n{_paragraph(rng, rng.randint(2, 6))}\n\nThanks,\n{name.split()[0]}"
        if kind == "reply":
            earlier = rng.choice(opened)
            name, address = earlier["from"]
            subject = f"Re: {earlier['subject']}"
            quoted = "\n".join(f"> {line}" for line in earlier["text"].splitlines())
            text = (
                f"{_paragraph(rng, rng.randint(1, 3))}\n\n"
                f"On {format_datetime(earlier['date'])}, {name} wrote:\n{quoted}"
            )
            m["In-Reply-To"] = f"<{earlier['message_id']}>"
            m["References"] = f"<{earlier['message_id']}>"
        m["From"] = formataddr((name, address))
        m["To"] = formataddr(("IT", MAILBOX))
        if rng.random() < 0.1:
            m["Cc"] = formataddr(rng.choice(senders))
        m["Date"] = format_datetime(when)
        m["Message-ID"] = f"<{message_id}>"
        attached = 0
        if kind == "forward":
            inner = EmailMessage()
            inner_name, inner_address = rng.choice(senders)
            inner["From"] = formataddr((inner_name, inner_address))
            inner["To"] = formataddr((name, address))
            inner["Subject"] = rng.choice(PROBLEMS).format(n=rng.randrange(1, 9))
            inner["Date"] = format_datetime(when - timedelta(hours=3))
            inner["Message-ID"] = f"<inner.{message_id}>"
            inner_text = f"Hi,\n\n{_paragraph(rng, rng.randint(2, 5))}\n\n{inner_name}"
            inner.set_content(inner_text)
            subject = f"Fwd: {inner['Subject']}"
            if rng.random() < 0.5:
                m["Subject"] = subject
                m.set_content(
                    f"See below, can you help?\n\n---------- Forwarded message ----------\n"
                    f"From: {inner['From']}\nDate: {inner['Date']}\nSubject: {inner['Subject']}\n"
                    f"To: {inner['To']}\n\n{inner_text}\n" + _signature(name, rng)
                )
            else:
                m["Subject"] = subject
                m.set_content(
                    "Forwarding this one, see the attached message." + _signature(name, rng)
                )
                m.add_attachment(inner)
        else:
            m["Subject"] = subject
            body = text + _signature(name, rng)
            if kind == "html":
                html = "<html><body>" + "".join(
                    f"<p>{line}</p>" for line in text.splitlines() if line
                )
                html += f"<p style='color:#888'>{name}<br>Phone</p></body></html>"
                if rng.random() < 0.7:
                    m.set_content(body)
                    m.add_alternative(html, subtype="html")
                else:
                    m.set_content(html, subtype="html")
            else:
                m.set_content(body)
            if kind == "attachments":
                for _ in range(rng.choice((1, 1, 1, 2))):
                    size = int(math.exp(rng.uniform(math.log(50_000), math.log(2_000_000))))
                    main, sub, filename, magic = rng.choice(ATTACHMENT_TYPES)
                    data = magic + rng.randbytes(size - len(magic))
                    m.add_attachment(
                        data, maintype=main, subtype=sub, filename=filename.format(n=index)
                    )
                    attached += size
        raw = bytes(m)
        path = folder / f"{index:06d}.eml"
        path.write_bytes(raw)
        record = {
            "file": path.name,
            "kind": kind,
            "size": len(raw),
            "attached": attached,
            "message_id": message_id,
            "subject": subject,
            "from": (name, address),
            "date": when,
            "text": text,
        }
        if kind != "reply":
            opened.append(record)
        described.append(record)
    return [
        {k: v for k, v in d.items() if k in ("file", "kind", "size", "attached")} for d in described
    ]


# --- Django side -------------------------------------------------------------------------------


def dj_setup() -> dict[str, Any]:
    """Migrate; one IT desk with its mailbox (taking unknown senders, as most desks do)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from comptoir.desks.models import Desk
    from comptoir.mail.models import Mailbox

    desk, _ = Desk.objects.get_or_create(
        slug="it", defaults={"name": "IT", "prefix": "IT", "time_zone": "UTC"}
    )
    box, _ = Mailbox.objects.get_or_create(
        address=MAILBOX, defaults={"desk": desk, "name": "IT", "accept_unknown_senders": True}
    )
    return {"desk": desk.pk, "mailbox": box.pk}


def _maxrss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _warm_up(box, folder: Path) -> None:
    import email
    import email.policy

    from comptoir.mail.services import receive

    for path in sorted(folder.glob("*.eml")):
        raw = path.read_bytes()
        receive(raw, mailbox=box)
        email.message_from_bytes(raw, policy=email.policy.default)


def _without(apps: list[str]) -> None:
    """Experiment: drop the event subscribers and the model signal receivers of ``apps``, to
    see what the rest of the pipeline costs. Not what Comptoir runs."""
    if not apps:
        return
    import weakref

    from django.db.models import signals

    from comptoir.core import events

    prefixes = tuple(f"comptoir.{app}." for app in apps)

    def theirs(function: Any) -> bool:
        return str(getattr(function, "__module__", "")).startswith(prefixes)

    for registry in (events._handlers, events._in_transaction):
        for event_type, handlers in registry.items():
            registry[event_type] = [h for h in handlers if not theirs(h)]
    for signal in (signals.post_save, signals.post_delete, signals.m2m_changed):
        with signal.lock:
            signal.receivers = [
                entry
                for entry in signal.receivers
                if not theirs(
                    entry[1]() if isinstance(entry[1], weakref.ReferenceType) else entry[1]
                )
            ]
            signal.sender_receivers_cache.clear()
    print(f"(without the subscribers and receivers of {', '.join(apps)}: an experiment)")


def dj_run(
    corpus: str, warmup: str, engine: str, repeats: int = 3, without: list[str] | None = None
) -> dict[str, Any]:
    """Time the pipeline over the corpus, then the baselines over the same files."""
    import email
    import email.policy
    import gc
    import shutil
    import time

    from django.conf import settings

    from comptoir.mail import spool
    from comptoir.mail.models import InboundMessage, Mailbox, OutboundMessage
    from comptoir.mail.parsing import parse_message
    from comptoir.mail.services import receive
    from comptoir.tickets.models import Attachment, Comment, Ticket

    settings.COMPTOIR_MAIL_RATE_LIMIT = 10**9  # one burst from a few senders, not a flood
    _without(without or [])
    box = Mailbox.objects.select_related("desk").get(address=MAILBOX)
    paths = sorted(Path(corpus).glob("*.eml"))
    _warm_up(box, Path(warmup))
    before = {
        "tickets": Ticket.objects.count(),
        "comments": Comment.objects.count(),
        "attachments": Attachment.objects.count(),
        "outbound": OutboundMessage.objects.count(),
        "inbound": InboundMessage.objects.count(),
    }

    gc.collect()
    rss_before = _maxrss_kib()
    statuses: Counter[str] = Counter()
    seconds: list[float] = []
    meter = common.CpuMeter(postgres=engine == "postgres")
    started = time.perf_counter()
    for path in paths:
        began = time.perf_counter()
        statuses[receive(path.read_bytes(), mailbox=box).status] += 1
        seconds.append(time.perf_counter() - began)
    wall = time.perf_counter() - started
    cpu = meter.stop()
    rss_after = _maxrss_kib()
    made = {
        "tickets": Ticket.objects.count() - before["tickets"],
        "comments": Comment.objects.count() - before["comments"],
        "attachments": Attachment.objects.count() - before["attachments"],
        "outbound": OutboundMessage.objects.count() - before["outbound"],
        "inbound": InboundMessage.objects.count() - before["inbound"],
    }

    def best(run) -> float:
        fastest = float("inf")
        for _ in range(repeats):
            gc.collect()
            began = time.perf_counter()
            run()
            fastest = min(fastest, time.perf_counter() - began)
        return fastest

    def bare_parse() -> None:
        for path in paths:
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)

    def our_parse() -> None:
        for path in paths:
            parse_message(path.read_bytes(), max_bytes=settings.COMPTOIR_MAIL_MAX_BYTES)

    baseline = best(bare_parse)
    parse_alone = best(our_parse)
    # The spool alone, into a folder of its own (every file new, so every write is done).
    elsewhere = Path(settings.COMPTOIR_MAIL_SPOOL_DIR).parent / "spool-alone"
    settings.COMPTOIR_MAIL_SPOOL_DIR = elsewhere
    began = time.perf_counter()
    for path in paths:
        spool.store(path.read_bytes())
    store_alone = time.perf_counter() - began
    shutil.rmtree(elsewhere, ignore_errors=True)
    return {
        "messages": len(paths),
        "wall_s": wall,
        "per_message_s": seconds,
        "statuses": dict(statuses),
        "made": made,
        "cpu": cpu,
        "baseline_s": baseline,
        "parse_alone_s": parse_alone,
        "store_alone_s": store_alone,
        "maxrss_before_kib": rss_before,
        "maxrss_after_kib": rss_after,
    }


def dj_memory(corpus: str, warmup: str, files: list[str], largest: str) -> dict[str, Any]:
    """The pipeline over ``files`` of the corpus, on a fresh database, with tracemalloc on; and
    the bare standard library parse of the largest message, as the baseline."""
    import email
    import email.policy
    import gc
    import time
    import tracemalloc

    from django.conf import settings

    from comptoir.mail.models import Mailbox
    from comptoir.mail.services import receive

    settings.COMPTOIR_MAIL_RATE_LIMIT = 10**9
    box = Mailbox.objects.select_related("desk").get(address=MAILBOX)
    _warm_up(box, Path(warmup))
    gc.collect()
    tracemalloc.start()
    floor = tracemalloc.get_traced_memory()[0]
    peaks = []
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    for name in files:
        tracemalloc.reset_peak()
        at_start = tracemalloc.get_traced_memory()[0]
        statuses[receive((Path(corpus) / name).read_bytes(), mailbox=box).status] += 1
        peak = tracemalloc.get_traced_memory()[1]
        peaks.append({"file": name, "own": peak - at_start, "run": peak - floor})
    wall = time.perf_counter() - started
    leftover = tracemalloc.get_traced_memory()[0] - floor

    def peak_of(run) -> int:
        gc.collect()
        tracemalloc.reset_peak()
        at_start = tracemalloc.get_traced_memory()[0]
        run()
        return tracemalloc.get_traced_memory()[1] - at_start

    raw_path = Path(corpus) / largest
    bare = peak_of(
        lambda: email.message_from_bytes(raw_path.read_bytes(), policy=email.policy.default)
    )
    tracemalloc.stop()
    return {
        "peaks": peaks,
        "statuses": dict(statuses),
        "wall_s": wall,
        "leftover": leftover,
        "bare_parse_peak": bare,
    }


# --- driver ------------------------------------------------------------------------------------


def memory_sample(files: list[dict[str, Any]], count: int, seed: int) -> list[str]:
    """The largest ten files and others drawn at random, in the corpus's order (0: all)."""
    if count == 0 or count >= len(files):
        return [f["file"] for f in files]
    by_size = sorted(range(len(files)), key=lambda i: files[i]["size"], reverse=True)
    chosen = set(by_size[: min(10, count)])
    rest = [i for i in range(len(files)) if i not in chosen]
    chosen |= set(random.Random(f"{seed}:memory").sample(rest, count - len(chosen)))
    return [files[i]["file"] for i in sorted(chosen)]


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.2f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--messages", type=int, default=1000, help="measured messages (1000)")
    parser.add_argument("--warmup", type=int, default=30, help="messages first, not counted (30)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the corpus (1)")
    parser.add_argument(
        "--memory-messages",
        type=int,
        default=200,
        help="messages of the tracemalloc pass: the 10 largest and others at random (200; "
        "0 = the whole corpus, -1 = no memory pass)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="wait up to this many seconds for other processes to leave the CPU (60)",
    )
    parser.add_argument(
        "--pg-name", default="comptoir_bench_mail", help="PostgreSQL database (recreated)"
    )
    parser.add_argument(
        "--without",
        type=lambda value: [app.strip() for app in value.split(",") if app.strip()],
        default=[],
        metavar="APP[,APP]",
        help="experiment: run without these apps' event subscribers and signal receivers "
        "(e.g. search,kb), to see what the rest costs; not a figure of Comptoir",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folders and databases")
    args = parser.parse_args()

    target = Target.create(args.database, pg_name=args.pg_name)
    target.throwaway = not args.keep
    memory_target: Target | None = None
    try:
        info = common.machine(target)
        say(f"Mail intake · {args.database} · data in {target.data_dir}")
        corpus_dir = target.data_dir / "corpus"
        warm_dir = target.data_dir / "warmup"
        files = make_corpus(corpus_dir, args.messages, args.seed, "bench")
        make_corpus(warm_dir, args.warmup, args.seed, "warm")
        kinds = Counter(f["kind"] for f in files)
        sizes = [f["size"] for f in files]
        largest = max(files, key=lambda f: f["size"])
        say(
            f"Corpus: {len(files)} messages, {mib(sum(sizes))} in all, "
            + ", ".join(f"{kinds[k]} {k}" for k in KINDS)
            + f"; largest {mib(largest['size'])} ({largest['file']}, {largest['kind']})"
        )
        common.django_call(THIS, "setup", target)
        quiet = common.wait_quiet(args.quiet_wait)
        say("Measuring the pipeline, then the baselines (same process, same files)")
        run = common.django_call(
            THIS,
            "run",
            target,
            corpus=str(corpus_dir),
            warmup=str(warm_dir),
            engine=args.database,
            without=args.without,
        )
        memory = None
        if args.memory_messages >= 0:
            chosen = memory_sample(files, args.memory_messages, args.seed)
            memory_target = Target.create(args.database, pg_name=f"{args.pg_name}_memory")
            memory_target.throwaway = not args.keep
            say(
                f"Memory: {len(chosen)} messages of the corpus on a fresh database, "
                f"tracemalloc on ({args.database})"
            )
            common.django_call(THIS, "setup", memory_target)
            memory = common.django_call(
                THIS,
                "memory",
                memory_target,
                corpus=str(corpus_dir),
                warmup=str(warm_dir),
                files=chosen,
                largest=largest["file"],
            )
    finally:
        target.cleanup()
        if memory_target is not None:
            memory_target.cleanup()

    count = run["messages"]
    rate = count / run["wall_s"]
    base_rate = count / run["baseline_s"]
    per_kind: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        chosen = [s for s, f in zip(run["per_message_s"], files, strict=True) if f["kind"] == kind]
        if chosen:
            per_kind[kind] = common.summary(chosen)
    latency = common.summary(run["per_message_s"])
    verdict = "met" if rate >= TARGET_RATE_SQLITE else "MISSED"

    print(f"\nMail intake — receive() over {count} messages ({args.database})")
    print(
        f"  corpus      {mib(sum(sizes))}; "
        + ", ".join(f"{kinds[k]} {k}" for k in KINDS)
        + f"; largest message {mib(largest['size'])}"
    )
    print(
        f"  pipeline    {count} messages in {run['wall_s']:.2f} s → {rate:.1f} messages/s "
        f"({mib(sum(sizes) / run['wall_s'])}/s); its process's CPU "
        f"{run['cpu']['client_cpu_s'] / count * 1000:.2f} ms a message"
        + (f" (without {', '.join(args.without)}: an experiment)" if args.without else "")
    )
    print(f"              per message: {common.fmt_latency(latency)}")
    for kind, figures in per_kind.items():
        print(
            f"              {kind:<12}p50 {figures['p50_ms']:.1f} ms · p95 {figures['p95_ms']:.1f} ms"
            f" · max {figures['max_ms']:.1f} ms (n={figures['n']})"
        )
    print(
        f"  made        {run['made']['tickets']} tickets, {run['made']['comments']} comments, "
        f"{run['made']['attachments']} attachments, {run['made']['outbound']} outbox rows; "
        f"statuses {run['statuses']}"
    )
    print(
        f"  baseline    email.message_from_bytes(raw, policy=default): {base_rate:.1f} messages/s "
        f"(best of 3) → the pipeline takes {base_rate / rate:.1f}× its time"
    )
    print(
        f"  parts       spool.store alone {count / run['store_alone_s']:.0f} messages/s "
        f"({run['store_alone_s'] / count * 1000:.2f} ms each) · parse_message alone "
        f"{count / run['parse_alone_s']:.0f} messages/s ({run['parse_alone_s'] / count * 1000:.2f} ms each)"
    )
    rss_growth = (run["maxrss_after_kib"] - run["maxrss_before_kib"]) * 1024
    print(
        f"  maxrss      {mib(run['maxrss_before_kib'] * 1024)} before the timed pass, "
        f"{mib(run['maxrss_after_kib'] * 1024)} after (+{mib(rss_growth)})"
    )
    if args.database == "sqlite":
        print(f"  target      ≥ {TARGET_RATE_SQLITE} messages/s on SQLite: {verdict}")

    memory_record = None
    if memory is not None:
        peaks = memory["peaks"]
        size_of = {f["file"]: f["size"] for f in files}
        run_peak = max(p["run"] for p in peaks)
        worst = max(peaks, key=lambda p: p["own"])
        own_largest = next(p["own"] for p in peaks if p["file"] == largest["file"])
        factor = run_peak / largest["size"]
        bare_factor = memory["bare_parse_peak"] / largest["size"]
        memory_verdict = "met" if factor < TARGET_MEMORY_FACTOR else "MISSED"
        print(
            f"  memory      tracemalloc peak over {len(peaks)} messages (the 10 largest among "
            f"them): {mib(run_peak)} = {factor:.2f}× the largest message "
            f"({mib(largest['size'])}); target < {TARGET_MEMORY_FACTOR}×: {memory_verdict}"
        )
        print(
            f"              the largest message's own peak {mib(own_largest)} "
            f"({own_largest / largest['size']:.2f}× its size); highest own peak "
            f"{mib(worst['own'])} ({worst['file']}, {mib(size_of[worst['file']])})"
        )
        print(
            f"  baseline    email.message_from_bytes of the largest message alone: peak "
            f"{mib(memory['bare_parse_peak'])} = {bare_factor:.2f}× its size"
        )
        print(
            f"              held after the pass {mib(memory['leftover'])}; the traced pass took "
            f"{memory['wall_s']:.1f} s (not a speed figure)"
        )
        memory_record = {
            "messages": len(peaks),
            "run_peak_bytes": run_peak,
            "factor_of_largest": round(factor, 3),
            "largest_own_peak_bytes": own_largest,
            "highest_own_peak_bytes": worst["own"],
            "highest_own_peak_file_bytes": size_of[worst["file"]],
            "bare_parse_peak_bytes": memory["bare_parse_peak"],
            "bare_parse_factor": round(bare_factor, 3),
            "leftover_bytes": memory["leftover"],
            "statuses": memory["statuses"],
            "target_factor": TARGET_MEMORY_FACTOR,
        }
    cpu = run["cpu"]
    print(
        f"\nCPU  pipeline process {cpu['client_cpu_s']:.1f} s"
        + (f", PostgreSQL {cpu['database_cpu_s']:.1f} s" if args.database == "postgres" else "")
        + f", other processes {cpu['others_cpu_s']:.1f} s ({cpu['others_share']:.0%} of the "
        f"machine) over {cpu['wall_s']:.1f} s"
    )
    common.print_machine(info)

    path = common.append_result(
        SCENARIO,
        {
            "params": vars(args),
            "others_share_before": quiet,
            "corpus": {
                "messages": count,
                "bytes": sum(sizes),
                "kinds": dict(kinds),
                "largest_bytes": largest["size"],
            },
            "pipeline_per_s": round(rate, 2),
            "pipeline_cpu_ms_per_message": round(run["cpu"]["client_cpu_s"] / count * 1000, 3),
            "without": args.without,
            "baseline_per_s": round(base_rate, 2),
            "pipeline_over_baseline": round(base_rate / rate, 2),
            "store_alone_per_s": round(count / run["store_alone_s"], 1),
            "parse_alone_per_s": round(count / run["parse_alone_s"], 1),
            "latency": latency,
            "per_kind": per_kind,
            "made": run["made"],
            "statuses": run["statuses"],
            "maxrss_growth_bytes": rss_growth,
            "memory": memory_record,
            "target_per_s": TARGET_RATE_SQLITE if args.database == "sqlite" else None,
            "cpu": cpu,
            "machine": info,
        },
    )
    print(f"\n(appended to {path.relative_to(common.ROOT)})")


if __name__ == "__main__":
    if not common.django_child({"setup": dj_setup, "run": dj_run, "memory": dj_memory}):
        main()
