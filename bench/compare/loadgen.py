#!/usr/bin/env python3
"""The load generator: simulated people with sessions, in its own process (asyncio + httpx).

    .venv/bin/python bench/compare/loadgen.py SPEC.json RESULT.json

``run.py`` writes the spec (the server's address, the system, the sessions, the phases) and
reads the result. Each simulated person is one ``httpx.AsyncClient`` with its own cookies (all
share one connection pool): agents sign in through the sign-in form, as a browser does;
Comptoir's portal users arrive with a signed-in session cookie made for them (signing in 1,000
people through the form would spend minutes of the server's CPU on password hashing before the
run). Every form post carries the CSRF token the page gave, as a browser sends it.

Phases, in the order the spec lists them:

* ``signin``: every session signs in (form) or fetches its first page (cookie), a few at a time;
* ``healthz``: ``/healthz`` one request at a time (the baseline's latency);
* ``capacity``: ``/healthz`` from N concurrent clients without pause: the most the generator
  and the server together complete per second, and the generator's CPU per request;
* ``mixed``: every session acts in turn with exponential think times (closed loop), for a
  duration; a probe times ``/healthz`` four times a second throughout;
* ``saturate``: one action at a time, N sessions acting without pause, for a duration: the
  action's throughput and latency when the server is the limit.

Every action is timed from its first byte sent to its last byte read (two requests where the
page fetches its rows with a second request, as django-helpdesk's list and search do).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for ``common``
import common  # noqa: E402

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DATATABLES = re.compile(r'"url": "(/datatables_ticket_list/[A-Za-z0-9+/=]*)"')
SENTENCE = (
    "the laptop restarts when I plug the dock and the screen stays black; I tried another cable "
    "and the same happens in the meeting room; could you send someone or a replacement before "
    "Friday; thanks for the quick answer earlier, the VPN works again from home"
)
WORDS = SENTENCE.split()
SEARCHES = ["vpn", "printer", "outlook", "password", "monitor", "badge", "mailbox", "licence"]
TITLES = [
    "Laptop does not boot after update",
    "Cannot connect to VPN from home",
    "Request a second monitor",
    "Printer on second floor jams",
    "Access to the finance share",
]


class Failed(Exception):
    """An action that did not get the answer a person would expect."""


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _expect(response: httpx.Response, *status: int) -> httpx.Response:
    if response.status_code not in status:
        raise Failed(
            f"{response.request.method} {response.request.url.path} → {response.status_code}"
        )
    if response.status_code == 302 and "login" in response.headers.get("location", ""):
        # Answered by "sign in first": nothing was done, the session was not accepted.
        raise Failed(f"{response.request.method} {response.request.url.path} → the sign-in page")
    return response


class Person:
    """One simulated person: an HTTP client with its cookies, what they sign in with, their tickets."""

    def __init__(self, transport, base_url: str, spec: dict[str, Any], seed: int):
        self.client = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=120, trust_env=False
        )
        self.spec = spec
        self.role = spec["role"]
        self.rng = random.Random(seed)
        self.csrf = ""

    def _pick(self) -> Any:
        return self.rng.choice(self.spec["tickets"])

    def _form(self, **fields: Any) -> dict[str, Any]:
        return {"csrfmiddlewaretoken": self.csrf, **fields}


class ComptoirAgent(Person):
    """The workspace's pages with a session; creation through the API with the agent's token."""

    async def signin(self) -> None:
        page = _expect(await self.client.get("/login/"), 200)
        self.csrf = CSRF_INPUT.search(page.text).group(1)
        _expect(
            await self.client.post(
                "/login/",
                data=self._form(username=self.spec["email"], password=self.spec["password"]),
            ),
            302,
        )
        page = _expect(await self.client.get("/desk/"), 200)  # where the sign-in leads
        self.csrf = CSRF_META.search(page.text).group(1)

    async def list(self) -> None:
        _expect(await self.client.get("/desk/", params={"queue": "open"}), 200)

    async def open(self) -> None:
        _expect(await self.client.get(f"/desk/t/{self._pick()}/"), 200)

    async def reply(self) -> None:
        body = text(self.rng, 40)
        _expect(
            await self.client.post(
                f"/desk/t/{self._pick()}/comment", data=self._form(body=body, visibility="reply")
            ),
            302,
        )

    async def create(self) -> None:
        payload = {
            "desk": self.spec["desk"],
            "title": self.rng.choice(TITLES),
            "description": text(self.rng, 60),
        }
        headers = {"Authorization": f"Bearer {self.spec['token']}"}
        _expect(await self.client.post("/api/v1/tickets", json=payload, headers=headers), 201)

    async def search(self) -> None:
        _expect(
            await self.client.get("/desk/search/", params={"q": self.rng.choice(SEARCHES)}), 200
        )


class ComptoirRequester(Person):
    """The portal's pages with a session: their requests, one request, a reply, a new request."""

    async def signin(self) -> None:
        self.client.cookies.set(self.spec["cookie_name"], self.spec["cookie"])
        page = _expect(await self.client.get("/portal/"), 200)
        self.csrf = CSRF_META.search(page.text).group(1)

    async def list(self) -> None:
        _expect(await self.client.get("/portal/"), 200)

    async def open(self) -> None:
        _expect(await self.client.get(f"/portal/t/{self._pick()}/"), 200)

    async def reply(self) -> None:
        data = self._form(body=text(self.rng, 30))
        _expect(await self.client.post(f"/portal/t/{self._pick()}/reply", data=data), 302)

    async def create(self) -> None:
        data = self._form(
            desk=self.spec["desk"],
            kind="incident",
            category="",
            title=self.rng.choice(TITLES),
            description=text(self.rng, 60),
        )
        _expect(await self.client.post("/portal/new/", data=data), 302)

    async def search(self) -> None:
        # A requester searches the knowledge base: the portal has no search over tickets.
        _expect(await self.client.get("/portal/kb/", params={"q": self.rng.choice(SEARCHES)}), 200)


class HelpdeskStaff(Person):
    """django-helpdesk's staff pages, used as its templates use them."""

    async def signin(self) -> None:
        page = _expect(await self.client.get("/login/"), 200)
        self.csrf = CSRF_INPUT.search(page.text).group(1)
        data = self._form(
            username=self.spec["username"], password=self.spec["password"], next="/tickets/"
        )
        _expect(await self.client.post("/login/", data=data), 302)
        page = _expect(await self.client.get("/tickets/submit/"), 200)
        self.csrf = CSRF_INPUT.search(page.text).group(1)

    async def _rows(self, page: httpx.Response) -> None:
        """The list page draws no row: its table asks for them (DataTables, server side)."""
        found = DATATABLES.search(page.text)
        if not found:
            raise Failed("no ticket table on the list page")
        params = {
            "draw": "1",
            "start": "0",
            "length": "25",
            "search[value]": "",
            "search[regex]": "false",
            "_": str(int(time.time() * 1000)),
        }
        rows = _expect(await self.client.get(found.group(1), params=params), 200)
        if "recordsTotal" not in rows.text:
            raise Failed("the table's rows did not come")

    async def list(self) -> None:
        params = {"queue": str(self.spec["queue"]), "status": ["1", "2"]}
        await self._rows(_expect(await self.client.get("/tickets/", params=params), 200))

    async def open(self) -> None:
        _expect(await self.client.get(f"/tickets/{self._pick()['id']}/"), 200)

    async def reply(self) -> None:
        t = self._pick()
        data = self._form(
            comment=text(self.rng, 40),
            new_status=str(t["status"]),
            public="1",
            title=t["title"],
            owner=str(t["owner"]),
            priority=str(t["priority"]),
            queue=str(t["queue"]),
            due_date="",
        )
        _expect(await self.client.post(f"/tickets/{t['id']}/update/", data=data), 302)

    async def create(self) -> None:
        data = self._form(
            queue=str(self.spec["queue"]),
            title=self.rng.choice(TITLES),
            body=text(self.rng, 60),
            priority="3",
            submitter_email=f"person{self.rng.randrange(1000):04d}@bench.test",
            assigned_to="",
            due_date="",
        )
        _expect(await self.client.post("/tickets/submit/", data=data), 302)

    async def search(self) -> None:
        page = _expect(
            await self.client.get("/tickets/", params={"q": self.rng.choice(SEARCHES)}), 200
        )
        await self._rows(page)


KINDS = {"agent": ComptoirAgent, "requester": ComptoirRequester, "staff": HelpdeskStaff}


# --- recording -------------------------------------------------------------------------------


class Record:
    """Latencies of completed actions and the failures, per (role, action)."""

    def __init__(self) -> None:
        self.ok: dict[str, list[float]] = defaultdict(list)
        self.failed: dict[str, int] = defaultdict(int)
        self.samples: dict[str, list[str]] = defaultdict(list)

    async def run(self, key: str, coro) -> None:
        start = time.perf_counter()
        try:
            await coro
        except (Failed, httpx.HTTPError, AttributeError) as exc:
            self.failed[key] += 1
            if len(self.samples[key]) < 3:
                self.samples[key].append(f"{type(exc).__name__}: {exc}"[:200])
            return
        self.ok[key].append(time.perf_counter() - start)

    def figures(self, wall: float) -> dict[str, Any]:
        out = {}
        for key in sorted(set(self.ok) | set(self.failed)):
            done, failed = len(self.ok[key]), self.failed[key]
            out[key] = {
                **common.summary(self.ok[key]),
                "per_s": round(done / wall, 2) if wall else 0.0,
                "errors": failed,
                "error_rate": round(failed / max(done + failed, 1), 4),
                "error_samples": self.samples[key],
            }
        return out


# --- phases ----------------------------------------------------------------------------------


async def phase_signin(people: list[Person], concurrency: int) -> dict[str, Any]:
    record = Record()
    gate = asyncio.Semaphore(concurrency)

    async def one(person: Person) -> None:
        async with gate:
            await record.run(f"{person.role} signin", person.signin())

    await asyncio.gather(*(one(p) for p in people))
    return {"actions": record.figures(0)}


async def phase_healthz(client: httpx.AsyncClient, requests: int) -> dict[str, Any]:
    record = Record()
    for _ in range(10):
        await client.get("/healthz")
    for _ in range(requests):
        await record.run("healthz", _healthz(client))
    return {"actions": record.figures(0)}


async def _healthz(client: httpx.AsyncClient) -> None:
    _expect(await client.get("/healthz"), 200)


async def phase_capacity(client: httpx.AsyncClient, clients: int, seconds: float) -> dict[str, Any]:
    record = Record()
    end = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < end:
            await record.run("healthz", _healthz(client))

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return {"actions": record.figures(time.perf_counter() - started)}


async def phase_mixed(
    people: list[Person], client: httpx.AsyncClient, seconds: float, think: dict, mix: dict
) -> dict[str, Any]:
    record = Record()
    probe = Record()
    end = time.monotonic() + seconds

    async def pause(seconds: float) -> None:  # a think time cut short by the end of the phase
        await asyncio.sleep(max(0.0, min(seconds, end - time.monotonic())))

    async def life(person: Person) -> None:
        mean = think[person.role]
        actions, weights = zip(*mix[person.role].items(), strict=True)
        await pause(person.rng.uniform(0, mean))
        while time.monotonic() < end:
            action = person.rng.choices(actions, weights)[0]
            await record.run(f"{person.role} {action}", getattr(person, action)())
            await pause(min(person.rng.expovariate(1 / mean), 5 * mean))

    async def probing() -> None:
        while time.monotonic() < end:
            await probe.run("healthz (under load)", _healthz(client))
            await asyncio.sleep(0.25)

    started = time.perf_counter()
    await asyncio.gather(probing(), *(life(p) for p in people))
    wall = time.perf_counter() - started
    return {"actions": {**record.figures(wall), **probe.figures(wall)}, "wall_s": round(wall, 2)}


async def phase_saturate(people: list[Person], action: str, seconds: float) -> dict[str, Any]:
    record = Record()
    end = time.monotonic() + seconds

    async def loop(person: Person) -> None:
        while time.monotonic() < end:
            await record.run(action, getattr(person, action)())

    started = time.perf_counter()
    await asyncio.gather(*(loop(p) for p in people))
    return {"actions": record.figures(time.perf_counter() - started)}


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=spec.get("connections", 256), max_keepalive_connections=256
        )
    )
    people = [
        KINDS[s["role"]](transport, spec["base_url"], s, seed=i)
        for i, s in enumerate(spec["people"])
    ]
    bare = httpx.AsyncClient(
        base_url=spec["base_url"], transport=transport, trust_env=False, timeout=60
    )
    results: list[dict[str, Any]] = []
    for phase in spec["phases"]:
        kind = phase["kind"]
        sys.stdout.write(f"   phase {phase['name']}\n")
        sys.stdout.flush()
        meter = common.CpuMeter(spec.get("server_pgid"), postgres=spec.get("postgres", False))
        if kind == "signin":
            out = await phase_signin(people, phase.get("concurrency", 4))
        elif kind == "healthz":
            out = await phase_healthz(bare, phase.get("requests", 200))
        elif kind == "capacity":
            out = await phase_capacity(bare, phase["clients"], phase["seconds"])
        elif kind == "mixed":
            out = await phase_mixed(people, bare, phase["seconds"], phase["think"], phase["mix"])
        elif kind == "saturate":
            chosen = [p for p in people if p.role == phase["role"]][: phase["clients"]]
            out = await phase_saturate(chosen, phase["action"], phase["seconds"])
        else:
            raise SystemExit(f"unknown phase {kind!r}")
        results.append({**phase, **out, "cpu": meter.stop()})
    await transport.aclose()  # the clients share it: closing it closes every connection
    return {"phases": results}


if __name__ == "__main__":
    spec_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    answer = asyncio.run(main(json.loads(spec_path.read_text())))
    result_path.write_text(json.dumps(answer, indent=1, default=str))
