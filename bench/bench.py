#!/usr/bin/env python3
"""The benchmarks of issue 8 (and the gate benchmark of issue 4), run by `bench/run`.

Everything runs against the fake GitLab on 127.0.0.1, one fake per measurement, so the
tools compared side by side in one hyperfine run see the same server. Writes the results
(markdown: --markdown, after the prose of --intro) and the raw data (hyperfine JSON, gate
trials, summary.json) under the output directory. Standard library only; the
python-gitlab client runs in its own venv.

Each section of the markdown sits between `<!-- bench:KEY -->` and `<!-- /bench:KEY -->`
(KEY: report, control, startup, list, gate, size, growth). With --only, the sections measured
replace their blocks in the existing file and the others are kept, so one section can be
re-measured on its own (e.g. `bench/run --only size` after a size change).
"""

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CLIENTS = BENCH / "clients"
SHA = "a1" * 20
TOKEN = "glpat-dev-0000000000000000001"
PROJECT = 42
IID = 7
DEMO_CHECKS = ["security-scan", "license-check", "deploy-approval"]
# Where a check may pass in the gate benchmark: the last one at 0-120 s.
GATE_WINDOW_S = 120.0
# GitLab's default Poll-Interval on the MR status_checks list.
POLL_INTERVAL_MS = 10_000
# The fixed baseline poller's period, unscaled.
FIXED_POLL_S = 10.0
# The sections, in the order they run and appear: (KEY, what).
STEPS = [
    ("report", "report by name"),
    ("control", "set a compliance control"),
    ("startup", "start-up"),
    ("list", "list with 300 checks"),
    ("gate", "gate efficiency"),
    ("size", "size and memory"),
    ("growth", "cost of growth"),
]
# Sections another script measures and writes (bench/load): kept as they are.
EXTERNAL = ["load"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ worlds


def check_names(n):
    return DEMO_CHECKS[:n] if n <= len(DEMO_CHECKS) else [f"check-{i:03}" for i in range(1, n + 1)]


def world(checks=3, mrs=1, passed=(), poll_interval_ms=POLL_INTERVAL_MS):
    """Project 42 with `checks` checks on every branch and `mrs` open MRs (iid 7, 8, ...),
    all at SHA from their own source branch to main. `passed`: the check names that
    already have a `passed` response on every MR."""
    names = check_names(checks)
    ids = {name: 1000 + i for i, name in enumerate(names)}
    next_id = 100_000
    merge_requests = []
    for k in range(mrs):
        responses = []
        for name in passed:
            responses.append({"id": next_id, "check_id": ids[name], "sha": SHA, "status": "passed"})
            next_id += 1
        merge_requests.append(
            {
                "id": 500 + k,
                "iid": IID + k,
                "title": f"Feature {k + 1}",
                "source_branch": "feature" if k == 0 else f"feature-{k + 1}",
                "target_branch": "main",
                "sha": SHA,
                "state": "opened",
                "source_project_id": PROJECT,
                "commits": [SHA],
                "responses": responses,
            }
        )
    return {
        "version": "17.5.0-ee",
        "poll_interval_ms": poll_interval_ms,
        "projects": [
            {
                "id": PROJECT,
                "path": "acme/app",
                "protected_branches": [{"id": 1, "name": "main"}],
                "checks": [
                    {"id": ids[n], "name": n, "external_url": f"https://checks.example.com/{n}"}
                    for n in names
                ],
                "merge_requests": merge_requests,
            }
        ],
        "next_id": next_id,
    }


CONTROL_ID = 12
CONTROL_SECRET = "bench-control-secret-12"


def controlled_world(clock_offset_secs=0):
    """The report world on 17.11 with external control 12 on project 42, its server clock
    `clock_offset_secs` ahead of the machine's (a runner that far behind)."""
    w = world(3)
    w["version"] = "17.11.0-ee"
    w["compliance"] = {
        "controls": [{"id": CONTROL_ID, "framework": 1, "external": True, "secret": CONTROL_SECRET}],
        "applied": [[1, PROJECT]],
    }
    w["clock_offset_secs"] = clock_offset_secs
    return w


def set_status_at(ms, check):
    return {
        "trigger": {"AfterMs": int(ms)},
        "action": {
            "SetStatus": {"project_id": PROJECT, "iid": IID, "check": check, "status": "passed"}
        },
    }


# ------------------------------------------------------------------ the fake


class Fake:
    """A fake-gitlab process with a world, optional timeline and added latency; its
    request log (JSON lines) is read back for request counts and times."""

    def __init__(self, binary, tmp, the_world, latency_ms=0, events=None):
        self.dir = Path(tempfile.mkdtemp(dir=tmp, prefix="fake-"))
        (self.dir / "world.json").write_text(json.dumps(the_world))
        args = [
            str(binary),
            "--listen",
            "127.0.0.1:0",
            "--world",
            str(self.dir / "world.json"),
            "--log-json",
            "--latency-ms",
            str(latency_ms),
        ]
        if events:
            (self.dir / "events.json").write_text(json.dumps(events))
            args += ["--script", str(self.dir / "events.json")]
        self.log_path = self.dir / "requests.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"fake-gitlab did not start: {line!r} {self.log_path.read_text()}")
        self.url = line.removeprefix("listening on ")

    def requests(self, settle=True):
        """The request log. The fake logs a request once answered, so after the client
        exits, wait until the log stops growing."""
        last = None
        for _ in range(20 if settle else 1):
            text = self.log_path.read_text()
            if text == last:
                break
            last = text
            time.sleep(0.03)
        return [json.loads(l) for l in text.splitlines() if l.startswith("{")]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def client_env(fake, mr=True):
    """The environment of a CI job talking to `fake`: the variables status-check, the curl
    scripts and the python-gitlab scripts read. No CI/GitLab variable leaks in from the
    machine running the benchmark."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CI_", "GITLAB_", "STATUS_CHECK_")) and k not in ("CI", "LD_PRELOAD")
    }
    env.update(
        {
            "CI_SERVER_URL": fake.url,
            "CI_API_V4_URL": f"{fake.url}/api/v4",
            "STATUS_CHECK_API_URL": f"{fake.url}/api/v4",
            "STATUS_CHECK_TOKEN": TOKEN,
            "CI_PROJECT_ID": str(PROJECT),
            "CI_COMMIT_SHA": SHA,
            "CI_SERVER_VERSION_MAJOR": "17",
            "CI_SERVER_VERSION_MINOR": "5",
        }
    )
    if mr:
        env["CI_MERGE_REQUEST_IID"] = str(IID)
    return env


# ------------------------------------------------------------------ measuring


def stats_ms(times_s):
    ms = sorted(t * 1000 for t in times_s)
    return {"min": ms[0], "median": statistics.median(ms), "max": ms[-1], "runs": len(ms)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.smoke = args.smoke
        self.out = Path(args.out)
        self.raw = self.out / "results"
        self.raw.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="status-check-bench-"))
        self.sc = Path(args.status_check)
        self.sc_static = Path(args.status_check_static) if args.status_check_static else None
        self.sc_static_arm = Path(args.status_check_static_aarch64) if args.status_check_static_aarch64 else None
        self.fake_bin = Path(args.fake_gitlab)
        self.python = Path(args.python) if args.python else None
        self.hyperfine = shutil.which("hyperfine")
        self.faketime = args.faketime if args.faketime and Path(args.faketime).exists() else None
        self.sections = []
        self.goals = []
        self.skipped = []
        self.data = {}
        # The section being measured (its KEY), for goals and skip notes.
        self.current = None

    # -- commands

    def tools(self):
        """(label, argv) of the report clients compared."""
        t = [("status-check", [str(self.sc)])]
        if self.sc_static:
            t.append(("status-check (static musl)", [str(self.sc_static)]))
        return t

    def run_checked(self, argv, env, what):
        p = subprocess.run(argv, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{what}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def probe(self, fake, commands, env):
        """Runs each command once and counts the requests it made (also checks it works)."""
        counts = {}
        for name, argv in commands:
            before = len(fake.requests())
            p = self.run_checked(argv, env, name)
            after = fake.requests()
            counts[name] = {
                "requests": len(after) - before,
                "per_page": sorted({r["per_page"] or "not sent" for r in after[before:] if r["method"] == "GET"}),
                "stdout": p.stdout,
            }
        return counts

    def measure(self, key, commands, env, runs, warmup):
        """hyperfine over the commands, side by side in one run; falls back to timing the
        commands here when hyperfine is missing (smoke runs with --no-install only)."""
        path = self.raw / f"{key}.json"
        if self.hyperfine:
            argv = [
                self.hyperfine,
                "--shell=none",
                "--style",
                "basic",
                "--warmup",
                str(warmup),
                "--runs",
                str(runs),
                "--export-json",
                str(path),
            ]
            for name, cmd in commands:
                argv += ["--command-name", name, " ".join(shell_quote(c) for c in cmd)]
            p = subprocess.run(argv, env=env, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"hyperfine {key}: {p.stdout}\n{p.stderr}")
            results = json.loads(path.read_text())["results"]
            return {r["command"]: stats_ms(r["times"]) for r in results}
        out = {"results": []}
        measured = {}
        for name, cmd in commands:
            times = []
            for i in range(warmup + runs):
                t0 = time.perf_counter()
                self.run_checked(cmd, env, name)
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
            out["results"].append({"command": name, "times": times, "note": "timed without hyperfine"})
            measured[name] = stats_ms(times)
        path.write_text(json.dumps(out, indent=1))
        return measured

    def runs(self, full):
        return 1 if self.smoke else full

    def warmup(self, full):
        return 0 if self.smoke else full

    # -- 1. report by name

    def report_by_name(self):
        rows = []
        commands = [(n, argv + ["report", "passed", "--name", "security-scan"]) for n, argv in self.tools()]
        commands.append(("curl + jq", [str(CLIENTS / "report-curl.sh"), "security-scan"]))
        if self.python:
            commands.append(
                ("python-gitlab", [str(self.python), str(CLIENTS / "report-python-gitlab.py"), "security-scan"])
            )
        else:
            self.skip("python-gitlab rows: no python-gitlab venv (--no-install)")
        ratios = {}
        for latency, runs in ((0, 40), (50, 20)):
            with Fake(self.fake_bin, self.tmp, world(3), latency_ms=latency) as fake:
                env = client_env(fake)
                counts = self.probe(fake, commands, env)
                m = self.measure(f"report-{latency}ms", commands, env, self.runs(runs), self.warmup(3))
            sc = m["status-check"]["median"]
            for name, _ in commands:
                rows.append([f"{latency} ms", name, counts[name]["requests"], *fmt3(m[name]), ratios2(m, name)])
            ratios[latency] = {name: sc / m[name]["median"] for name, _ in commands}
            ratios[f"{latency}-min"] = {name: m["status-check"]["min"] / m[name]["min"] for name, _ in commands}
            self.data[f"report-{latency}ms"] = {"stats": m, "requests": {k: v["requests"] for k, v in counts.items()}}
        self.data["report-ratios"] = ratios
        for latency in (0, 50):
            r, rmin = ratios[latency], ratios[f"{latency}-min"]
            for tool, limit in (("curl + jq", 1.05), ("python-gitlab", 0.2)):
                if tool in r:
                    self.goal(
                        f"report, {latency} ms: status-check ÷ {tool} ≤ {limit} (medians)",
                        r[tool],
                        limit,
                        detail=f"{rmin[tool]:.2f} on the minimums",
                    )
        self.section(
            "Report by name (list the MR's checks, find the id, post `passed`)",
            "status-check is the glibc release build (the goals are checked on it); the static musl build is "
            "what the job image ships. Added latency is per request, on the fake's side. Ratio = status-check's median ÷ "
            "this tool's median (below 1: status-check is faster), and the same on the minimums.",
            ["Latency", "Tool", "Requests", "min", "median", "max", "status-check ÷ this (median; min)"],
            rows,
        )

    # -- 1b. set a compliance control

    def control(self):
        if not shutil.which("openssl"):
            self.skip("control: no openssl for the hand-written client")
            return
        commands = [(n, argv + ["control", "pass", "--control-id", str(CONTROL_ID)]) for n, argv in self.tools()]
        commands.append(("date + openssl + curl", [str(CLIENTS / "control-curl.sh"), "pass"]))
        rows = []
        for latency, runs in ((0, 40), (50, 20)):
            with Fake(self.fake_bin, self.tmp, controlled_world(), latency_ms=latency) as fake:
                env = client_env(fake) | {"STATUS_CHECK_CONTROL_SECRET": CONTROL_SECRET, "CONTROL_ID": str(CONTROL_ID)}
                counts = self.probe(fake, commands, env)
                # Each run sets the same status again: GitLab answers 200 and changes nothing.
                m = self.measure(f"control-{latency}ms", commands, env, self.runs(runs), self.warmup(3))
            for name, _ in commands:
                rows.append([f"{latency} ms", "in step", name, counts[name]["requests"], "set", *fmt3(m[name])])
            self.data[f"control-{latency}ms"] = {"stats": m, "requests": {k: v["requests"] for k, v in counts.items()}}
            if latency == 0:
                for name, _ in commands[: len(self.tools())]:
                    self.goal(f"control on a healthy server: requests ({name})", counts[name]["requests"], 1)
        # A runner whose clock is 10 minutes behind GitLab's: one try each.
        skew = {}
        with Fake(self.fake_bin, self.tmp, controlled_world(clock_offset_secs=600)) as fake:
            env = client_env(fake) | {"STATUS_CHECK_CONTROL_SECRET": CONTROL_SECRET, "CONTROL_ID": str(CONTROL_ID)}
            for name, argv in commands:
                before = len(fake.requests())
                t0 = time.perf_counter()
                p = subprocess.run(argv, env=env, capture_output=True, text=True)
                elapsed = (time.perf_counter() - t0) * 1000
                n = len(fake.requests()) - before
                outcome = "set" if p.returncode == 0 else f"exit {p.returncode}"
                skew[name] = {"requests": n, "exit": p.returncode}
                rows.append(["0 ms", "runner 10 min behind", name, n, outcome, f"{elapsed:.1f}", "", ""])
        self.data["control-skew"] = skew
        for name, _ in commands[: len(self.tools())]:
            self.goal(f"control, runner clock 10 min behind: set, in requests ({name})", skew[name]["requests"] if skew[name]["exit"] == 0 else 99, 2)
        self.section(
            "Set a compliance control (`control pass`)",
            "One signed PATCH of external control 12 (the fake on 17.11). The hand-written client signs with "
            "the runner's clock, as such jobs do; status-check signs 2 s behind it and, when GitLab refuses the "
            "time, once more on GitLab's (`Date`). The skewed row runs each client once (time in ms, one run).",
            ["Latency", "Runner's clock", "Client", "Requests", "Outcome", "min", "median", "max"],
            rows,
        )

    # -- 2. start-up

    def startup(self):
        commands = [(f"{n} --version", argv + ["--version"]) for n, argv in self.tools()]
        commands.append(("curl --version", ["curl", "--version"]))
        if self.python:
            commands.append(("python -c 'import gitlab'", [str(self.python), "-c", "import gitlab"]))
            commands.append(("python -c pass (interpreter alone)", [str(self.python), "-c", "pass"]))
        m = self.measure("startup", commands, dict(os.environ), self.runs(50), self.warmup(5))
        rows = [[name, *fmt3(m[name]), ratios2(m, name, commands[0][0])] for name, _ in commands]
        self.data["startup"] = m
        self.section(
            "Start-up",
            "",
            ["Command", "min", "median", "max", "status-check ÷ this (median; min)"],
            rows,
        )

    # -- 3. list with 300 checks

    def list_300(self):
        commands = [(n, argv + ["list", "--output", "json"]) for n, argv in self.tools()[:1]]
        commands.append(("curl + jq, X-Next-Page loop", [str(CLIENTS / "list-curl.sh")]))
        if self.python:
            commands.append(("python-gitlab list(get_all=True)", [str(self.python), str(CLIENTS / "list-python-gitlab.py")]))
            commands.append(
                ("python-gitlab, per_page=100", [str(self.python), str(CLIENTS / "list-python-gitlab.py"), "100"])
            )
        rows = []
        for latency, runs in ((0, 20), (50, 10)):
            with Fake(self.fake_bin, self.tmp, world(300), latency_ms=latency) as fake:
                env = client_env(fake)
                counts = self.probe(fake, commands, env)
                m = self.measure(f"list300-{latency}ms", commands, env, self.runs(runs), self.warmup(2))
            for name, _ in commands:
                c = counts[name]
                rows.append(
                    [f"{latency} ms", name, c["requests"], ", ".join(c["per_page"]), *fmt3(m[name]), ratios2(m, name)]
                )
            self.data[f"list300-{latency}ms"] = {"stats": m, "requests": {k: v["requests"] for k, v in counts.items()}}
            if latency == 0:
                sc_count = counts["status-check"]
                got = json.loads(sc_count["stdout"].strip().splitlines()[-1])
                n = len(got) if isinstance(got, list) else len(got.get("checks", []))
                if n != 300:
                    raise RuntimeError(f"status-check list saw {n} checks, not 300")
                self.goal("list of 300 checks: status-check asks per_page=100 (3 requests)", sc_count["requests"], 3,
                          detail=f"per_page={','.join(sc_count['per_page'])}")
        self.section(
            "List with 300 checks",
            "`per_page` as sent on the GETs (not sent: GitLab's default of 20). python-gitlab follows the `Link` header, "
            "whose URLs repeat the page size GitLab used.",
            ["Latency", "Client", "Requests", "per_page", "min", "median", "max", "status-check ÷ this (median; min)"],
            rows,
        )

    # -- 4. gate efficiency

    def gate(self):
        if not self.faketime:
            self.skip("gate efficiency: libfaketime not installed (--no-install)")
            return
        scale = self.args.gate_scale
        trials = self.args.gate_trials
        rng = random.Random(self.args.seed)
        plans = []
        for _ in range(trials):
            last = rng.uniform(0, GATE_WINDOW_S)
            others = sorted(rng.uniform(0, last) for _ in range(len(DEMO_CHECKS) - 1))
            plans.append(others + [last])
        pollers = [
            ("status-check wait (defaults)", "wait", []),
            ("status-check wait --interval 10s --max-interval 10s", "wait", ["--interval", "10s", "--max-interval", "10s"]),
            ("fixed 10 s poller (curl + jq, no head read)", "fixed", []),
        ]
        jobs = [(p, i, plan) for p in pollers for i, plan in enumerate(plans)]
        # Interleaved, so that every poller meets the same machine load.
        random.Random(self.args.seed).shuffle(jobs)
        log(f"gate: {len(jobs)} trials at {scale}x, {self.args.jobs} at a time")
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.args.jobs) as pool:
            results = list(pool.map(lambda j: self.gate_trial(scale, *j), jobs))
        log(f"gate: done in {time.monotonic() - t0:.0f}s")
        (self.raw / "gate-trials.json").write_text(json.dumps({"scale": scale, "trials": results}, indent=1))
        rows = []
        summary = {}
        for name, _, _ in pollers:
            mine = [r for r in results if r["poller"] == name]
            delays = sorted(r["delay_s"] for r in mine)
            lo, hi = bootstrap_ci(delays, 95, random.Random(self.args.seed))
            slow = sum(1 for d in delays if d > POLL_INTERVAL_MS / 1000) / len(delays)
            minutes = [r["waited_s"] / 60 for r in mine]
            total = fit(minutes, [r["requests"] for r in mine])
            lists = fit(minutes, [r["list_polls"] for r in mine])
            heads = fit(minutes, [r["head_reads"] for r in mine])
            s = {
                "trials": len(mine),
                "requests_per_min": total[0],
                "fixed_requests": total[1],
                "overall_per_min": sum(r["requests"] for r in mine) / sum(minutes),
                "lists_per_min": lists[0],
                "heads_per_min": heads[0],
                "mean_wait_s": statistics.mean(minutes) * 60,
                "p50": percentile(delays, 50),
                "p95": percentile(delays, 95),
                "p95_ci90": [lo, hi],
                "slower_than_poll_interval": slow,
                "max": delays[-1],
            }
            summary[name] = s
            rows.append(
                [
                    name,
                    s["trials"],
                    f"**{s['requests_per_min']:.2f}**",
                    f"{s['fixed_requests']:.1f}",
                    f"{s['overall_per_min']:.2f}",
                    f"{s['lists_per_min']:.2f} + {s['heads_per_min']:.2f}",
                    f"{s['p50']:.1f} s",
                    f"**{s['p95']:.1f} s** ({lo:.1f}–{hi:.1f})",
                    f"{slow * 100:.1f} %",
                    f"{s['max']:.1f} s",
                ]
            )
        self.data["gate"] = summary
        d = summary["status-check wait (defaults)"]
        self.goal("gate (defaults): ≤ 6 requests per minute of waiting", d["requests_per_min"], 6)
        self.goal(
            "gate (defaults): p95 detection delay ≤ Poll-Interval (10 s)",
            d["p95"],
            POLL_INTERVAL_MS / 1000,
            detail=f"90 % CI {d['p95_ci90'][0]:.1f}–{d['p95_ci90'][1]:.1f} s; "
            f"{d['slower_than_poll_interval'] * 100:.1f} % of detections slower than 10 s",
        )
        self.section(
            "Gate efficiency (`wait`) vs a fixed 10 s poller",
            f"{trials} trials per poller; in each, 3 checks pass at random times and the last one at a "
            f"uniformly random time in 0–{GATE_WINDOW_S:.0f} s (the same {trials} timelines for every poller). "
            f"Poll-Interval {POLL_INTERVAL_MS} ms. Time runs {scale}× faster: `wait` runs under libfaketime "
            f"(`FAKETIME=\"+0 x{scale}\"`, so its defaults apply unchanged), the fake's timeline and the fixed "
            f"poller's sleep are divided by {scale}; all figures are in unscaled seconds. "
            f"**Requests/min of waiting** is the slope of a least-squares fit of requests against minutes waited "
            f"over the trials (what one more minute of waiting costs); **fixed per wait** is its intercept (the "
            f"first poll, the head read before the verdict, whatever does not grow with the wait); **overall** is all "
            f"requests ÷ all minutes, which counts the fixed part too (mean wait "
            f"{statistics.mean(r['waited_s'] for r in results):.0f} s). List + head: the slope split into list GETs "
            f"and MR head reads. Detection delay = arrival of the first list GET that could see the last pass − "
            f"the time it passed (from the fake's request log); p95 with a 90 % bootstrap interval; "
            f"> 10 s: the share of detections slower than the Poll-Interval (p95 ≤ 10 s needs ≤ 5 %).",
            ["Poller", "Trials", "Requests/min of waiting", "Fixed per wait", "Overall req/min",
             "List + head per min", "Delay p50", "Delay p95 (90 % CI)", "> 10 s", "Delay max"],
            rows,
        )

    def gate_trial(self, scale, poller, index, plan):
        name, kind, extra = poller
        # The fake's clock counts whole ms: its events and log share them.
        at_ms = [int(t * 1000 / scale) for t in plan]
        events = [set_status_at(ms, c) for ms, c in zip(at_ms, DEMO_CHECKS)]
        with Fake(self.fake_bin, self.tmp, world(3), events=events) as fake:
            env = client_env(fake)
            if kind == "wait":
                env["LD_PRELOAD"] = self.faketime
                env["FAKETIME"] = f"+0 x{scale}"
                argv = [str(self.sc), "wait", "--timeout", "10m", "--output", "json", *extra]
            else:
                env["POLL_SECONDS"] = f"{FIXED_POLL_S / scale:.4f}"
                env["MAX_POLLS"] = "200"
                argv = [str(CLIENTS / "poll-fixed.sh")]
            t0 = time.monotonic()
            p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=GATE_WINDOW_S / scale * 3 + 60)
            wall = time.monotonic() - t0
            reqs = fake.requests()
        if p.returncode != 0:
            raise RuntimeError(f"gate trial {name} #{index}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        last_ms = at_ms[-1]
        lists = [r for r in reqs if r["method"] == "GET" and r["path"].endswith("/status_checks")]
        seen = [r["at_ms"] for r in lists if r["at_ms"] >= last_ms]
        if not seen:
            raise RuntimeError(f"gate trial {name} #{index}: no poll after the last pass")
        return {
            "poller": name,
            "trial": index,
            "pass_times_s": plan,
            "delay_s": (seen[0] - last_ms) * scale / 1000,
            "requests": len(reqs),
            "list_polls": len(lists),
            "head_reads": sum(1 for r in reqs if r["path"].endswith(f"/merge_requests/{IID}")),
            "waited_s": wall * scale,
            "reported": json.loads(p.stdout.strip().splitlines()[-1]) if kind == "wait" else None,
        }

    # -- 5. size

    def size(self):
        """The shipped artefacts: the static binaries and the job image. scripts/check-figures
        reads these rows back (by their labels) and compares them with the artefacts built."""
        rows = []
        self.data["size"] = {}
        if self.sc_static:
            rows.append(["static binary, x86_64-unknown-linux-musl", f"{self.sc_static.stat().st_size:,} bytes"])
            self.data["size"]["static_binary"] = self.sc_static.stat().st_size
        else:
            self.skip("static binary size: no static build (scripts/build-static)")
        if self.sc_static_arm:
            rows.append(["static binary, aarch64-unknown-linux-musl", f"{self.sc_static_arm.stat().st_size:,} bytes"])
            self.data["size"]["static_binary_aarch64"] = self.sc_static_arm.stat().st_size
        # The other platforms' release binaries (scripts/build-static --all).
        self.data["size"]["release_binaries"] = {}
        for spec in self.args.release_binary or []:
            target, _, path = spec.partition("=")
            size = Path(path).stat().st_size
            kind = "static binary" if "-linux-" in target else "binary"
            rows.append([f"{kind}, {target}", f"{size:,} bytes"])
            self.data["size"]["release_binaries"][target] = size
        if self.args.image_size:
            img = json.loads(Path(self.args.image_size).read_text())
            rows.append(["job image (amd64), compressed layers as pushed", f"{img['compressed']:,} bytes"])
            rows.append(["job image (amd64), unpacked layers", f"{img['unpacked']:,} bytes"])
            self.data["size"]["image"] = img
        else:
            self.skip("image size: no image build (scripts/stage-rootfs + buildah)")
        rss = []
        timer = "/usr/bin/time"
        if not Path(timer).exists():
            self.skip("peak RSS: /usr/bin/time missing (Debian package time)")
        else:
            with Fake(self.fake_bin, self.tmp, world(3)) as fake:
                env = client_env(fake)
                cases = [(f"{n} report passed", argv + ["report", "passed", "--name", "security-scan"]) for n, argv in self.tools()]
                cases.append(("curl + jq report (largest process)", [str(CLIENTS / "report-curl.sh"), "security-scan"]))
                if self.python:
                    cases.append(("python-gitlab report", [str(self.python), str(CLIENTS / "report-python-gitlab.py"), "security-scan"]))
                for name, argv in cases:
                    rss.append((name, "", peak_rss_kb(timer, argv, env)))
            # A 10-minute wait at defaults: as many polls as the gate section's list rate gives
            # for 10 minutes (40 without it), at a short interval, for the memory figure.
            gate = (self.data.get("gate") or self.previous_data().get("gate") or {}).get("status-check wait (defaults)")
            polls = max(10, round(gate["lists_per_min"] * 10)) if gate else 40
            for n, argv in self.tools():
                # The gate never polls faster than the Poll-Interval: a 100 ms one here.
                with Fake(self.fake_bin, self.tmp, world(3, poll_interval_ms=100)) as fake:
                    env = client_env(fake)
                    kb, out = peak_rss_kb(
                        timer,
                        argv + ["wait", "--interval", "100ms", "--max-interval", "100ms", "--timeout", f"{polls * 100 + 50}ms", "--output", "json"],
                        env,
                        ok_codes=(3,),
                        want_stdout=True,
                    )
                    reqs = len(fake.requests())
                rss.append((f"{n} wait, 10-minute equivalent", f"{reqs} requests, then timeout", kb))
            for name, note, kb in rss:
                rows.append([f"peak RSS: {name}" + (f" ({note})" if note else ""), f"{kb:,} KiB"])
            self.data["rss_kb"] = {name: kb for name, _, kb in rss}
        self.section(
            "Size",
            "Bytes of the files `scripts/build-static` writes and of the job image as `bench/image-size` builds it "
            "(the Dockerfile's root file system, committed and pushed by buildah); peak RSS from `/usr/bin/time` "
            "(maximum resident set size).",
            ["What", "Size"],
            rows,
        )

    # -- 6. cost of growth

    def growth(self):
        rows = []
        cases = [
            (f"MR pipeline, 1 MR, {n} check{'s' if n > 1 else ''}", world(n, passed=check_names(n)), True)
            for n in (1, 10, 100, 300)
        ]
        cases += [
            (f"branch pipeline, {n} open MR{'s' if n > 1 else ''} of the SHA, 3 checks each",
             world(3, mrs=n, passed=DEMO_CHECKS), False)
            for n in (1, 5, 20)
        ]
        argv = [str(self.sc), "wait", "--output", "json", "--timeout", "1m"]
        for latency, runs in ((0, 20), (50, 5)):
            for i, (label, w, mr) in enumerate(cases):
                with Fake(self.fake_bin, self.tmp, w, latency_ms=latency) as fake:
                    env = client_env(fake, mr=mr)
                    p = self.run_checked(argv, env, label)
                    got = json.loads(p.stdout.strip().splitlines()[-1])
                    if got["result"] != "passed":
                        raise RuntimeError(f"growth {label}: {got}")
                    kinds = request_kinds(fake.requests())
                    m = self.measure(f"growth-{latency}ms-{i}", [(label, argv)], env, self.runs(runs), self.warmup(2))
                rows.append([f"{latency} ms", label, got["requests"], kinds, *fmt3(m[label])])
                self.data.setdefault("growth", []).append(
                    {"latency_ms": latency, "case": label, "requests": got["requests"], "stats": m[label]}
                )
        self.section(
            "Cost of growth: `wait` when every check has already passed",
            "Requests as counted by status-check (`requests` in its JSON) and by kind in the fake's log.",
            ["Latency", "Case", "Requests", "By kind", "min", "median", "max"],
            rows,
        )

    # -- output

    def goal(self, what, value, limit, detail=""):
        self.goals.append(
            {"section": self.current, "goal": what, "value": value, "limit": limit, "met": value <= limit, "detail": detail}
        )

    def previous_data(self):
        """The data of the last run (summary.json), for a section re-measured alone."""
        try:
            return json.loads((self.raw / "summary.json").read_text()).get("data", {})
        except (OSError, ValueError):
            return {}

    def skip(self, what):
        self.skipped.append({"section": self.current, "what": what})

    def section(self, title, note, header, rows):
        self.sections.append((self.current, title, note, header, rows))

    def block(self, key, title, note, header, rows, remeasured):
        """One section's markdown, between its markers."""
        lines = [f"<!-- bench:{key} -->", f"## {title}", ""]
        if remeasured:
            lines += [remeasured, ""]
        if note:
            lines += [note, ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            lines.append("| " + " | ".join(str(c) for c in r) + " |")
        lines.append("")
        goals = [g for g in self.goals if g["section"] == key]
        if goals:
            lines += ["| Goal | Measured | Met |", "|---|---|---|"]
            for g in goals:
                v = g["value"]
                shown = f"{v:.3f}" if isinstance(v, float) else str(v)
                if g["detail"]:
                    shown += f" ({g['detail']})"
                lines.append(f"| {g['goal']} | {shown} | {'yes' if g['met'] else '**no**'} |")
            lines.append("")
        skipped = [s["what"] for s in self.skipped if s["section"] == key]
        if skipped:
            lines += ["Not measured in this run:", ""] + [f"- {s}" for s in skipped] + [""]
        lines.append(f"<!-- /bench:{key} -->")
        return "\n".join(lines)

    def write(self, env_lines, command, markdown, intro, partial):
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rev = first_line(["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"])
        head = [
            "<!-- bench:run -->",
            "## The run",
            "",
            f"Produced by `{command}` on {when}"
            + (" (**smoke run: 1 iteration each, not results**)" if self.smoke else "") + ".",
            "",
        ]
        head += [f"- {l}" for l in env_lines]
        head += [
            "",
            "Times are hyperfine's min / median / max in ms, all tools of a table measured side by side in one "
            "hyperfine run against the same fake GitLab on 127.0.0.1. The machine is shared and noisy: "
            "read the ratios, not the absolute times.",
            "<!-- /bench:run -->",
        ]
        old = markdown.read_text() if partial and markdown.exists() else None
        note = f"Re-measured by `{command}` on {when}, commit {rev}." if old else ""
        blocks = {key: self.block(key, title, n, header, rows, note) for key, title, n, header, rows in self.sections}
        # A section skipped whole still says why, in a block of its own.
        for key, what in STEPS:
            if key not in blocks and any(s["section"] == key for s in self.skipped):
                lines = [f"<!-- bench:{key} -->", f"## {what[0].upper() + what[1:]}", ""]
                lines += ["Not measured in this run:", ""]
                lines += [f"- {s['what']}" for s in self.skipped if s["section"] == key]
                lines += ["", f"<!-- /bench:{key} -->"]
                blocks[key] = "\n".join(lines)
        keys = [k for k, _ in STEPS]
        if old is not None:
            # Keep the run header and the sections not measured now; replace the others.
            def kept(key):
                m = re.search(rf"<!-- bench:{key} -->.*?<!-- /bench:{key} -->", old, flags=re.S)
                return m.group(0) if m else None
            run = kept("run") or "\n".join(head)
            parts = [blocks.get(k) or kept(k) for k in keys]
        else:
            run = "\n".join(head)
            parts = [blocks.get(k) for k in keys]
        text = []
        if intro:
            text.append(
                "<!-- Written by bench/run from bench/performance-intro.md and the measurements: "
                "edit those, not this file. -->"
            )
            text.append(Path(intro).read_text().rstrip())
            text.append("")
        else:
            text += ["# Benchmarks", ""]
        text.append(run)
        text.append("")
        previous = markdown.read_text() if markdown.exists() else ""
        for key in EXTERNAL:
            m = re.search(rf"<!-- bench:{key} -->.*?<!-- /bench:{key} -->", previous, flags=re.S)
            if m:
                parts.append(m.group(0))
        for p in parts:
            if p:
                text += [p, ""]
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text("\n".join(text).rstrip() + "\n")
        summary_path = self.raw / "summary.json"
        summary = {"environment": env_lines, "goals": [], "data": {}}
        if old is not None and summary_path.exists():
            summary = json.loads(summary_path.read_text())
            summary["goals"] = [g for g in summary.get("goals", []) if g.get("section") not in blocks]
            summary["remeasured"] = summary.get("remeasured", []) + [
                {"sections": sorted(blocks), "when": when, "commit": rev, "environment": env_lines}
            ]
        summary["goals"] += self.goals
        summary["data"].update(self.data)
        summary_path.write_text(json.dumps(summary, indent=1, default=str))


# ------------------------------------------------------------------ helpers


def shell_quote(s):
    return s if re.fullmatch(r"[A-Za-z0-9_./=:,+-]+", s) else "'" + s.replace("'", "'\\''") + "'"


def fmt3(s):
    return [f"{s['min']:.1f}", f"{s['median']:.1f}", f"{s['max']:.1f}"]


def ratios2(m, name, base="status-check"):
    """status-check ÷ `name`, on the medians and on the minimums."""
    if name == base:
        return "—"
    return f"{m[base]['median'] / m[name]['median']:.2f}×; {m[base]['min'] / m[name]['min']:.2f}×"


def fit(xs, ys):
    """Least-squares line ys = slope * xs + intercept: (slope, intercept)."""
    mx, my = statistics.mean(xs), statistics.mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return (my / mx if mx else 0.0, 0.0)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return (slope, my - slope * mx)


def bootstrap_ci(values, p, rng, rounds=2000):
    """90 % bootstrap interval of the p-th percentile."""
    est = sorted(percentile(sorted(rng.choices(values, k=len(values))), p) for _ in range(rounds))
    return est[int(0.05 * rounds)], est[int(0.95 * rounds) - 1]


def percentile(sorted_values, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def request_kinds(reqs):
    kinds = {}
    for r in reqs:
        path = r["path"]
        if path.endswith("/status_checks"):
            k = "list"
        elif "/repository/commits/" in path:
            k = "MRs of the SHA"
        elif re.search(r"/merge_requests/\d+$", path):
            k = "MR head"
        else:
            k = path
        kinds[k] = kinds.get(k, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in kinds.items())


def peak_rss_kb(timer, argv, env, ok_codes=(), want_stdout=False):
    with tempfile.NamedTemporaryFile("r") as f:
        p = subprocess.run([timer, "-f", "%M", "-o", f.name, *argv], env=env, capture_output=True, text=True)
        if p.returncode != 0 and p.returncode not in ok_codes:
            raise RuntimeError(f"{argv}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
        lines = [l for l in Path(f.name).read_text().splitlines() if l.strip().isdigit()]
    kb = int(lines[-1])
    return (kb, p.stdout) if want_stdout else kb


def first_line(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "not available"


def environment(b):
    cpu = "unknown"
    try:
        for l in Path("/proc/cpuinfo").read_text().splitlines():
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        f"Machine: {os.cpu_count()} CPUs (`nproc`: {first_line(['nproc'])}), {cpu}, Linux {platform.release()}",
        f"status-check: {first_line([str(b.sc), '--version'])} ("
        + ("debug build" if b.smoke else "glibc release build")
        + (", and the static musl build" if b.sc_static else "") + ")",
        f"curl: {first_line(['curl', '--version'])}",
        f"jq: {first_line(['jq', '--version'])}",
    ]
    if b.python:
        v = subprocess.run(
            [str(b.python), "-c", "import gitlab, platform; print(gitlab.__version__, platform.python_version())"],
            capture_output=True,
            text=True,
        ).stdout.split()
        lines.append(f"python-gitlab: {v[0]} on Python {v[1]}")
    lines.append(f"hyperfine: {first_line(['hyperfine', '--version']) if b.hyperfine else 'not installed (timed by bench.py)'}")
    if b.faketime:
        lines.append(f"libfaketime: {first_line(['dpkg-query', '-W', '-f=${Version}', 'libfaketime'])} (gate benchmark)")
    rev = first_line(["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"])
    lines.append(f"Source: commit {rev}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--status-check", required=True)
    ap.add_argument("--status-check-static")
    ap.add_argument("--status-check-static-aarch64")
    ap.add_argument("--release-binary", action="append",
                    help="TARGET=PATH: another platform's release binary, for the size table (repeatable)")
    ap.add_argument("--fake-gitlab", required=True)
    ap.add_argument("--python", help="the venv python with python-gitlab")
    ap.add_argument("--faketime", help="path of libfaketime.so.1")
    ap.add_argument("--image-size", help="JSON file {compressed, unpacked} from bench/run")
    ap.add_argument("--out", required=True, help="directory of the raw data (results/ under it)")
    ap.add_argument("--markdown", help="the markdown to write (default: OUT/results.md)")
    ap.add_argument("--intro", help="markdown prose to put before the results")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--gate-trials", type=int, default=150)
    ap.add_argument("--gate-scale", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=10, help="gate trials run at once")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--command", default="bench/run")
    ap.add_argument("--only", help="comma-separated sections: report,control,startup,list,gate,size,growth")
    args = ap.parse_args()
    b = Bench(args)
    only = set(args.only.split(",")) if args.only else None
    steps = {
        "report": b.report_by_name,
        "control": b.control,
        "startup": b.startup,
        "list": b.list_300,
        "gate": b.gate,
        "size": b.size,
        "growth": b.growth,
    }
    markdown = Path(args.markdown) if args.markdown else b.out / "results.md"
    try:
        for key, _ in STEPS:
            if only and key not in only:
                continue
            log(f"{key} ...")
            t0 = time.monotonic()
            b.current = key
            steps[key]()
            log(f"{key}: {time.monotonic() - t0:.0f}s")
        b.write(environment(b), args.command, markdown, args.intro, partial=bool(only))
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)
    log(f"wrote {markdown}")
    if not args.smoke:
        for g in b.goals:
            if not g["met"]:
                log(f"goal missed: {g['goal']}")


if __name__ == "__main__":
    main()
