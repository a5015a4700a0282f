"""Attack a real `kpibot serve` the way issue 14's adversarial review did, and print what each attempt got.

    python bench/adversarial.py                                  # a fresh SQLite file
    python bench/adversarial.py --database-url postgresql+psycopg://kpibot:kpibot@127.0.0.1:54329/adv

Starts `kpibot serve` (HTTP mode) on a free port with a local stand-in for Slack's Web API, plus a second
stand-in playing an internal service an attacker would aim the bot at, then sends every attempt over real
HTTP and reads the database and the server's log afterwards. Prints one row per attempt: what was sent,
the status, and what was stored or lost, and whether any outbound request was made; then `kpibot import`
edge cases and their exit codes. Exit code 0 when every attempt got the expected outcome, 1 otherwise.
The PostgreSQL database named in the URL is dropped and created again.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, make_url, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.db import make_engine  # noqa: E402
from storage.models import RawEvent, RejectedEvent  # noqa: E402
from tests.bot.running_bot import kpibot_serve, served_url  # noqa: E402
from tests.databases import held_write_lock, refused_inserts  # noqa: E402
from tests.slack_standin import SlackStandIn, event_body, sign, slash_command_body  # noqa: E402

SIGNING, WEBHOOK, TOKEN = "adv-signing-secret-1", "adv-webhook-secret-2", "adv-webhook-token-3"
HANDLE, TEXT = "@adv_private_handle", "ADV-PRIVATE-TEXT card 4970 blocked"
FIXTURE = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "chatwoot" / "message_created_incoming.json"
)


class Run:
    def __init__(self, url: str, engine, slack: SlackStandIn, internal: SlackStandIn):
        self.http = httpx.Client(base_url=url, timeout=60)
        self.engine, self.slack, self.internal = engine, slack, internal
        self.rows: list[tuple[str, str, str, bool]] = []

    def record(self, attempt: str, status: str, outcome: str, ok: bool) -> None:
        self.rows.append((attempt, status, outcome, ok))
        print(f"{'ok ' if ok else 'BAD'} {attempt}: {status} · {outcome}", file=sys.stderr)

    def count(self, model, *where) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()

    def signed_event(self, body: bytes) -> dict:
        ts = str(int(time.time()))
        mac = hmac.new(WEBHOOK.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Kpibot-Timestamp": ts,
            "X-Kpibot-Signature": f"sha256={mac}",
        }

    def post_events(self, events, **headers):
        body = json.dumps(events).encode()
        return self.http.post("/events", content=body, headers={**self.signed_event(body), **headers})

    def slack_post(self, body: str, content_type: str, **headers):
        return self.http.post(
            "/slack/events",
            content=body,
            headers={**sign(body, SIGNING), "Content-Type": content_type, **headers},
        )


def message(event_id: str, **changes) -> dict:
    event = {"id": event_id, "type": "message", "at": "2026-11-20T09:00:00Z"}
    event.update(conversation_id=f"tw-{event_id}", channel="twitter", direction="inbound", text=TEXT)
    event["author"] = {"kind": "customer", "id": HANDLE}
    return {**event, **changes}


def slack_door(run: Run) -> None:
    aimed = slash_command_body("/kpi", "frt", response_url=f"{run.internal.base_url}/response/internal")
    for label, stamp in (
        ("abc", "abc"),
        ("1e9", "1e9"),
        ("empty", ""),
        ("²", "²"),
        ("5,000 digits", "1" * 5000),
    ):
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp.encode("latin-1"),
            "X-Slack-Signature": "v0=x",
        }
        status = run.http.post("/slack/events", content=aimed, headers=headers).status_code
        time.sleep(0.2)
        called = bool(run.internal.calls)
        run.record(
            f"slash command, timestamp {label}, response_url internal",
            str(status),
            f"outbound calls: {len(run.internal.calls)}",
            status == 401 and not called,
        )
    status = run.http.post(
        "/slack/events",
        content='{"response_url":"' + run.internal.base_url + '/r", "type":',
        headers={"Content-Type": "application/json"},
    ).status_code
    run.record(
        "unsigned body that is not JSON",
        str(status),
        f"outbound calls: {len(run.internal.calls)}",
        status == 401 and not run.internal.calls,
    )
    status = run.slack_post(aimed, "application/x-www-form-urlencoded").status_code
    time.sleep(0.3)
    run.record(
        "signed command, response_url internal",
        str(status),
        f"outbound calls: {len(run.internal.calls)}",
        status == 400 and not run.internal.calls,
    )
    other = slash_command_body("/kpi", "help", response_url=run.slack.response_url, team_id="T999")
    answer = run.slack_post(other, "application/x-www-form-urlencoded")
    time.sleep(0.3)
    run.record(
        "signed command from another workspace",
        str(answer.status_code),
        f"answered in the ack only; response_url posts: {len(run.slack.responses)}",
        answer.status_code == 200 and not run.slack.responses,
    )
    mention = {
        "type": "message",
        "text": TEXT,
        "user": "U0CUSTOMER",
        "ts": "1795165200.000100",
        "channel": "C0INTAKE",
        "event_ts": "1795165200.000100",
    }
    body = event_body(mention, event_id="EvAdv1")
    with refused_inserts(run.engine, "raw_event"):
        failed = run.slack_post(body, "application/json").status_code
    retried = run.slack_post(body, "application/json", **{"X-Slack-Retry-Num": "1"}).status_code
    stored = run.count(RawEvent, RawEvent.source == "slack")
    run.record(
        "intake event failing once in the database, then Slack's retry",
        f"{failed} then {retried}",
        f"stored {stored}",
        (failed, retried, stored) == (500, 200, 1),
    )


def poisons(run: Run) -> None:
    kinds = {
        "lone surrogate": lambda n: json.dumps(message(f"p{n}", text="x")).replace('"x"', '"\\ud83d"'),
        "NUL in text": lambda n: json.dumps(message(f"p{n}", text="a\x00b")),
        "nested 990 deep": lambda n: (
            json.dumps(message(f"p{n}"))[:-1] + ', "x": ' + "[" * 990 + "]" * 990 + "}"
        ),
        "at 0001-01-01T00:00:00+01:00": lambda n: json.dumps(
            message(f"p{n}", at="0001-01-01T00:00:00+01:00")
        ),
        "at 9999-12-31T23:59:59-01:00": lambda n: json.dumps(
            message(f"p{n}", at="9999-12-31T23:59:59-01:00")
        ),
        "handle_seconds Infinity": lambda n: (
            json.dumps(message(f"p{n}"))[:-1] + ', "handle_seconds": Infinity}'
        ),
    }
    for name, make in kinds.items():
        body = f"[{json.dumps(message(f'one-{name}'))}, {make(name)}]".encode()
        answer = run.http.post("/events", content=body, headers=run.signed_event(body))
        got = answer.json() if answer.status_code == 200 else {}
        run.record(
            f"batch: a good event + {name}",
            str(answer.status_code),
            f"stored {got.get('stored')}, rejected {len(got.get('rejected', []))}",
            answer.status_code == 200 and got.get("stored") == 1,
        )
    bodies = []
    for n in range(1200):
        good = json.dumps(message(f"c{n}"))
        bodies.append(good.encode())
        if n % 5 == 0:
            bodies.append(list(kinds.values())[n % len(kinds)](f"cp{n}").encode())
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(lambda b: run.http.post("/events", content=b, headers=run.signed_event(b)), bodies)
        )
    statuses = sorted({a.status_code for a in answers})
    stored = run.count(RawEvent, RawEvent.external_id.like("c%"), ~RawEvent.external_id.like("cp%"))
    run.record(
        "1,200 good requests with 240 poisoned ones, 16 at a time",
        ",".join(map(str, statuses)),
        f"good stored {stored} of 1200, lost {1200 - stored}",
        stored == 1200 and statuses == [200],
    )
    year_one = run.post_events([message("y1", at="0001-01-01T00:00:00Z")]).json()
    started = time.monotonic()
    ask = run.slack_post(
        slash_command_body("/kpi", "backlog", response_url=run.slack.new_response_url()),
        "application/x-www-form-urlencoded",
    )
    before = len(run.slack.responses)
    deadline = time.monotonic() + 30
    while len(run.slack.responses) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    seconds = time.monotonic() - started
    run.record(
        "event at 0001-01-01, then /kpi backlog",
        f"{ask.status_code}",
        f"rejected: {bool(year_one['rejected'])}; backlog answered in {seconds:.2f} s",
        bool(year_one["rejected"]) and seconds < 5,
    )
    for stamp in ("²", "¹²³", "1" * 5000):
        body = json.dumps(message("ts")).encode()
        headers = {**run.signed_event(body), "X-Kpibot-Timestamp": stamp.encode("latin-1")}
        status = run.http.post("/events", content=body, headers=headers).status_code
        run.record(
            f"webhook timestamp {stamp[:8]}{'…' if len(stamp) > 8 else ''}",
            str(status),
            "nothing stored",
            status == 401,
        )
    forged = run.post_events(
        [message("msg-88001", source="chatwoot", conversation_id="cw-3-1042", text="forged")]
    ).json()
    real = run.http.post(
        f"/webhooks/chatwoot?token={TOKEN}",
        content=FIXTURE.read_bytes(),
        headers={"Content-Type": "application/json"},
    ).json()
    run.record(
        "/events claiming source chatwoot, then the real Chatwoot message",
        "200, 200",
        f"forged rejected: {bool(forged['rejected'])}; real stored: {real['stored']}",
        bool(forged["rejected"]) and real["stored"] == 1,
    )


def chatwoot(run: Run) -> None:
    base = json.loads(FIXTURE.read_text())
    shapes = {
        '"sender": "ana"': lambda p: p.update(sender="ana"),
        "content_attributes as a string": lambda p: p.update(content_attributes="x"),
        "conversation.channel as a list": lambda p: p["conversation"].update(channel=["x"]),
        "changed_attributes as an int": lambda p: p.update(
            event="conversation_updated", changed_attributes=5
        ),
        "lone surrogate in content": lambda p: p.update(content="\ud83d"),
    }
    for name, change in shapes.items():
        payload = json.loads(json.dumps(base))
        payload["id"] = 90000 + len(name)
        change(payload)
        answer = run.http.post(
            f"/webhooks/chatwoot?token={TOKEN}",
            content=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        run.record(
            f"Chatwoot payload with {name}",
            str(answer.status_code),
            "; ".join(r["reason"] for r in answer.json().get("rejected", []))[:70]
            or json.dumps(answer.json()),
            answer.status_code == 200,
        )


def escaping(run: Run) -> None:
    hostile = "ok\n```\n<!channel> Urgent: <https://evil.example/sso|re-login>"
    reply = message(
        "qr-o",
        direction="outbound",
        author={"kind": "agent", "id": "U1"},
        conversation_id="tw-qr",
        quick_reply=hostile,
        at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
    )
    run.post_events([reply])
    before = len(run.slack.responses)
    run.slack_post(
        slash_command_body("/kpi", "quick-replies today public", response_url=run.slack.new_response_url()),
        "application/x-www-form-urlencoded",
    )
    deadline = time.monotonic() + 10
    while len(run.slack.responses) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    answer = json.dumps(run.slack.responses[-1][1]) if len(run.slack.responses) > before else ""
    run.record(
        "quick reply named to ping the channel, /kpi quick-replies today public",
        "answered" if answer else "no answer",
        "raw <!channel> in the answer" if "<!channel>" in answer else "shown escaped",
        bool(answer) and "<!channel>" not in answer and "&lt;!channel&gt;" in answer,
    )


def slow_and_failing_writes(run: Run) -> None:
    pool = ThreadPoolExecutor(max_workers=60)
    with held_write_lock(run.engine):
        waiting = [pool.submit(run.post_events, [message(f"slow{n}")]) for n in range(60)]
        time.sleep(1.0)
        started = time.monotonic()
        ack = run.slack_post(
            slash_command_body("/kpi", "help", response_url=run.slack.new_response_url()),
            "application/x-www-form-urlencoded",
        )
        ack_s = time.monotonic() - started
        started = time.monotonic()
        health = run.http.get("/healthz")
        health_s = time.monotonic() - started
        time.sleep(5)
    answers = [f.result() for f in waiting]
    pool.shutdown()
    codes = sorted({a.status_code for a in answers})
    stored = sum(a.json()["stored"] for a in answers if a.status_code == 200)
    run.record(
        "database held 6 s by another writer, 60 webhooks waiting",
        f"ack {ack.status_code} in {ack_s:.2f} s, /healthz {health.status_code} in {health_s:.2f} s",
        f"webhooks {codes}, stored {stored}, the rest told to retry",
        ack_s < 1 and health_s < 1 and ack.status_code == 200,
    )
    with refused_inserts(run.engine, "raw_event"):
        failed = run.post_events([message("unwritable")])
        health = run.http.get("/healthz")
    after = run.http.get("/healthz")
    run.record(
        "database refusing writes",
        f"webhook {failed.status_code}, /healthz {health.status_code}, then {after.status_code}",
        health.json().get("writes", "")[:60],
        failed.status_code == 503 and health.status_code == 503 and after.status_code == 200,
    )


def privacy(run: Run, log: Path) -> None:
    with run.engine.connect() as conn:
        kept = " ".join(conn.execute(select(RejectedEvent.payload)).scalars())
        stored = " ".join(conn.execute(select(RawEvent.body)).scalars())
    logged = log.read_text(errors="replace")
    leaks = [
        name
        for name, secret in (
            ("signing secret", SIGNING),
            ("webhook secret", WEBHOOK),
            ("webhook token", TOKEN),
            ("bot token", "xoxb-adversarial"),
            ("customer handle", HANDLE),
            ("message text", TEXT),
        )
        if secret in logged
    ]
    run.record("server log of the whole run", "-", f"leaks: {', '.join(leaks) or 'none'}", not leaks)
    run.record(
        "rejected and stored events",
        "-",
        f"raw handle kept: {HANDLE in kept + stored}",
        HANDLE not in kept + stored,
    )


def imports(database_url: str, rows: list) -> None:
    folder = Path(tempfile.mkdtemp(prefix="kpibot-adv-import-"))
    header = "id,type,at,conversation_id,channel,direction,author_kind,author_id,text\n"
    row = "i{n},message,2026-11-20T09:00:00Z,fb-{n},facebook,inbound,customer,@bob,{text}\n"
    line = lambda n, t="hello": json.dumps(message(f"imp{n}", text=t), ensure_ascii=False) + "\n"  # noqa: E731
    files = {
        "CSV with a UTF-8 BOM": (
            "bom.csv",
            b"\xef\xbb\xbf" + (header + row.format(n=1, text="a") + row.format(n=2, text="b")).encode(),
        ),
        "Latin-1 byte on line 6,001 of 6,101": (
            "latin.ndjson",
            b"".join(
                line(n).encode() if n != 6000 else line(n, "café").encode("latin-1") for n in range(6101)
            ),
        ),
        "200 KB CSV cell": ("long.csv", (header + row.format(n=3, text="x" * 200_000)).encode()),
        ".gz NDJSON": ("events.ndjson.gz", gzip.compress((line(90001) + line(90002)).encode())),
    }
    env = {**os.environ, "DATABASE_URL": database_url, "KPIBOT_PSEUDONYM_KEY": "adv"}
    for name, (file_name, content) in files.items():
        (folder / file_name).write_bytes(content)
        done = _kpibot(["import", str(folder / file_name)], env)
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[:80]
        rows.append(
            (
                f"kpibot import: {name}",
                f"exit {done.returncode}",
                summary,
                "Traceback" not in done.stderr and done.returncode in (0, 1),
            )
        )
    done = _kpibot(["import", str(folder)], env)
    rows.append(
        (
            "kpibot import: a directory",
            f"exit {done.returncode}",
            done.stderr.strip()[:80],
            done.returncode == 2 and "is a directory" in done.stderr,
        )
    )


def _kpibot(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from bot.cli import main; main()", *arguments]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]
    )


def fresh_database(url: str | None, folder: Path) -> str:
    if url is None:
        return f"sqlite:///{folder / 'adversarial.db'}"
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {target.database} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {target.database}"))
    admin.dispose()
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", help="a PostgreSQL URL (its database is recreated); default: a new SQLite file"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kpibot-adv-"))
    database_url = fresh_database(args.database_url, folder)
    make_engine(database_url).dispose()
    with SlackStandIn() as slack, SlackStandIn() as internal:
        env = {"DATABASE_URL": database_url, "KPIBOT_PSEUDONYM_KEY": "adv"}
        env.update(
            SLACK_BOT_TOKEN="xoxb-adversarial", SLACK_SIGNING_SECRET=SIGNING, SLACK_API_URL=slack.api_url
        )
        env.update(SLACK_RESPONSE_ORIGINS=slack.base_url, KPIBOT_CONFIG=str(folder / "kpibot.yml"))
        env.update(KPIBOT_WEBHOOK_SECRET=WEBHOOK, KPIBOT_WEBHOOK_TOKEN=TOKEN, KPIBOT_WEBHOOK_MAX_PENDING="20")
        (folder / "kpibot.yml").write_text("intake_channels:\n  C0INTAKE: twitter\n")
        process, log = kpibot_serve(folder, env)
        engine = make_engine(database_url)
        try:
            run = Run(served_url(process, log), engine, slack, internal)
            for part in (slack_door, poisons, chatwoot, escaping, slow_and_failing_writes):
                part(run)
            privacy(run, log)
        finally:
            process.terminate()
            process.wait(timeout=30)
    imports(database_url, run.rows)
    engine.dispose()
    kind = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    print(f"## Adversarial run against `kpibot serve` on {kind}\n")
    print("| attempt | status | stored / lost / outbound | as required |")
    print("|---|---|---|---|")
    for attempt, status, outcome, ok in run.rows:
        print(f"| {attempt} | {status} | {outcome.replace('|', '/')} | {'yes' if ok else '**no**'} |")
    return 0 if all(ok for *_, ok in run.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
