"""The printed tables of a comparison run (``run.py`` calls ``print_run``)."""

from __future__ import annotations

from typing import Any

import common

#: Comptoir's throughput as a multiple of django-helpdesk's, at a lower p95, per action.
TARGETS = {"create": 10, "open": 10, "reply": 10, "list": 50, "search": 50}
NAMES = {"comptoir": "Comptoir", "helpdesk": "django-helpdesk"}


def _phase(run: dict[str, Any], kind: str, action: str | None = None, label: str | None = None):
    for phase in run["phases"]:
        if phase["kind"] != kind:
            continue
        if action is not None and phase.get("action") != action:
            continue
        if phase.get("label") != label:
            continue
        return phase
    return None


def _cpu(cpu: dict[str, float]) -> str:
    return (
        f"server {cpu['server_cpu_s']:.1f} s · generator {cpu['client_cpu_s']:.1f} s · "
        f"PostgreSQL {cpu['database_cpu_s']:.1f} s · other processes {cpu['others_cpu_s']:.1f} s "
        f"({cpu['others_share']:.0%} of the machine) over {cpu['wall_s']:.0f} s"
    )


def generator_lines(name: str, run: dict[str, Any]) -> list[str]:
    idle = _phase(run, "healthz")["actions"]["healthz"]
    cap = _phase(run, "capacity")
    flat = cap["actions"]["healthz"]
    cpu = cap["cpu"]
    per_request = cpu["client_cpu_s"] / max(flat["n"], 1) * 1000
    share = cpu["client_cpu_s"] / max(cpu["wall_s"], 1e-9)
    return [
        f"  {name}: /healthz alone p50 {idle['p50_ms']:.2f} ms, p95 {idle['p95_ms']:.2f} ms; "
        f"flat out {flat['per_s']:.0f}/s (p50 {flat['p50_ms']:.1f} ms) with the generator at "
        f"{per_request:.2f} ms CPU per request ({share:.0%} of one core), the server "
        f"{cpu['server_cpu_s'] / max(flat['n'], 1) * 1000:.2f} ms",
    ]


def mixed_lines(name: str, run: dict[str, Any]) -> list[str]:
    mixed = _phase(run, "mixed")
    idle = _phase(run, "healthz")["actions"]["healthz"]["p50_ms"]
    signin = _phase(run, "signin")["actions"]
    lines = [f"\n  {name} — {mixed['name']}"]
    failed_signin = {k: v["errors"] for k, v in signin.items() if v["errors"]}
    if failed_signin:
        lines.append(
            f"    sign-in failures: {failed_signin} {[v['error_samples'] for v in signin.values()]}"
        )
    lines.append(
        f"    {'action':28s} {'done':>6s} {'per s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} "
        f"{'p99 ms':>8s} {'errors':>7s} {'p50 ÷ /healthz':>15s}"
    )
    for key, fig in mixed["actions"].items():
        lines.append(
            f"    {key:28s} {fig['n']:6d} {fig['per_s']:7.2f} {fig['p50_ms']:8.1f} "
            f"{fig['p95_ms']:8.1f} {fig['p99_ms']:8.1f} {fig['error_rate']:7.1%} "
            f"{fig['p50_ms'] / idle:14.1f}×"
        )
        for sample in fig["error_samples"]:
            lines.append(f"      error: {sample}")
    lines.append(f"    CPU  {_cpu(mixed['cpu'])}")
    return lines


def _cpu_ms(phase: dict[str, Any], fig: dict[str, Any]) -> float:
    """Server (and PostgreSQL) CPU per action: steadier than a rate on a shared machine."""
    done = fig["n"] + fig["errors"]
    # PostgreSQL's processes that end during the phase take their CPU time with them: never < 0.
    cpu = phase["cpu"]["server_cpu_s"] + max(0.0, phase["cpu"]["database_cpu_s"])
    return cpu / max(done, 1) * 1000


def comparison_lines(runs: dict[str, Any]) -> list[str]:
    comptoir, helpdesk = runs.get("comptoir"), runs.get("helpdesk")
    lines = [
        "\n  Each action flat out (closed loop, no think time); CPU = the server's (and PostgreSQL's)"
        " CPU per action",
        f"    {'action':21s} {'Comptoir /s':>11s} {'p50':>6s} {'p95':>7s} {'CPU ms':>7s} {'err':>4s}  "
        f"{'helpdesk /s':>11s} {'p50':>6s} {'p95':>7s} {'CPU ms':>7s} {'err':>4s}  "
        f"{'ratio /s':>8s} {'CPU':>6s} {'target':>6s}  verdict",
    ]
    rows = [(a, a, None) for a in TARGETS]
    if comptoir:
        rows.insert(1, ("create (portal form)", "create", "create (portal form)"))
    for title, action, label in rows:
        c = _phase(comptoir, "saturate", action, label) if comptoir else None
        h = _phase(helpdesk, "saturate", action) if helpdesk else None
        cf = c["actions"].get(action) if c else None
        hf = h["actions"].get(action) if h else None
        cells = []
        for phase, fig in ((c, cf), (h, hf)):
            cells.append(
                f"{fig['per_s']:11.1f} {fig['p50_ms']:6.0f} {fig['p95_ms']:7.0f} "
                f"{_cpu_ms(phase, fig):7.1f} {fig['error_rate']:4.0%}"
                if fig
                else f"{'—':>11s} {'':6s} {'':7s} {'':7s} {'':4s}"
            )
        verdict = ratio = cpu_ratio = ""
        goal = TARGETS.get(action)
        if cf and hf and hf["per_s"] > 0 and cf["n"]:
            r = cf["per_s"] / hf["per_s"]
            ratio = f"{r:7.1f}×"
            cpu_ratio = f"{_cpu_ms(h, hf) / max(_cpu_ms(c, cf), 1e-9):5.1f}×"
            if title == action:
                met = r >= goal and cf["p95_ms"] < hf["p95_ms"]
                verdict = "met" if met else "MISSED"
        target = f"≥{goal}×" if goal and title == action else ""
        lines.append(
            f"    {title:21s} {cells[0]}  {cells[1]}  {ratio:>8s} {cpu_ratio:>6s} {target:>6s}  {verdict}"
        )
    for name, run in (("Comptoir", comptoir), ("django-helpdesk", helpdesk)):
        if not run:
            continue
        for phase in run["phases"]:
            if phase["kind"] == "saturate":
                for fig in phase["actions"].values():
                    for sample in fig["error_samples"]:
                        lines.append(f"      {name} {phase['name']}: {sample}")
        cpu = [p["cpu"] for p in run["phases"] if p["kind"] == "saturate"]
        total = {k: sum(c[k] for c in cpu) for k in cpu[0]} if cpu else None
        if total:
            total["others_share"] = sum(c["others_share"] * c["wall_s"] for c in cpu) / max(
                total["wall_s"], 1e-9
            )
            lines.append(f"    CPU ({name}, all actions)  {_cpu(total)}")
    return lines


def print_run(engine: str, settings: dict, runs: dict[str, Any], info: dict[str, Any]) -> None:
    print(
        f"\nSide by side at {settings['tickets']:,} tickets — {engine}"
        + (" + Redis" if settings["redis"] else "")
    )
    print(
        f"  servers     Gunicorn gthread, {settings['workers']} workers × {settings['threads']} "
        "threads, each alone on the machine with the generator (2 cores shared by all three)"
    )
    print(
        f"  people      Comptoir: {settings['agents']} agents (think {settings['agent_think_s']:.0f} s) "
        f"and {settings['requesters']} portal users (think {settings['requester_think_s']:.0f} s); "
        f"django-helpdesk: {settings['agents']} staff (think {settings['agent_think_s']:.0f} s)"
    )
    if "helpdesk" in runs:
        print(f"  django-helpdesk {runs['helpdesk']['versions']}")
    print("\n  The generator (its ceiling: is it the bottleneck?)")
    for system, run in runs.items():
        for line in generator_lines(NAMES[system], run):
            print(line)
    for system, run in runs.items():
        for line in mixed_lines(NAMES[system], run):
            print(line)
    for line in comparison_lines(runs):
        print(line)
    for system, run in runs.items():
        print(
            f"  {NAMES[system]}: other processes used {run['others_share_before']:.0%} "
            "of the machine just before the run"
        )
    common.print_machine(info)
