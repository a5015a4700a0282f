"""`kpibot digest|alert|intake list|add|off` and `kpibot sla list|set|reset`: the terminal twins of
`/kpi digest|alert|intake|sla …`.

They go through the same settings code as Slack (`bot.settings_commands.settings_reply`), as the operator
(who may change anything: whoever can run the CLI can reach the database). Slack channels are named by
id (in Slack: the channel's name > About > Channel ID), since the terminal cannot ask Slack for names.
A running bot picks changes up within a minute.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import typer

from bot.cli.context import (
    EXIT_USAGE,
    at_moment,
    console,
    db_option,
    errors,
    fail,
    load_settings,
    open_engine,
)

_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{4,}")
_MENTION = re.compile(r"<([#@])([A-Z0-9]+)(?:\|[^>]*)?>")
_MARKUP = re.compile(r"[*`]")
CHANNEL_HELP = "Slack channel id, e.g. C0123ABCD (channel name > About > Channel ID)."


def slack_channel(value: str) -> str:
    """A Slack channel id as typed (`C0123ABCD`, `#C0123ABCD`), upper-cased; else a usage error."""
    channel = value.strip().lstrip("#").upper()
    if not _CHANNEL_ID.fullmatch(channel):
        raise typer.BadParameter(
            f"{value!r} is not a Slack channel id: use one like C0123ABCD "
            "(in Slack, the channel's name > About > Channel ID)"
        )
    return channel


def channel_argument():
    return typer.Argument(..., help=CHANNEL_HELP, callback=slack_channel, show_default=False)


def apply(text: str, *, here: str = "", db: str | None = None) -> None:
    """Runs one settings command in `/kpi` grammar about the Slack channel `here`; prints the reply."""
    # Imported here: Bolt and the scheduler's modules are not needed for `kpibot --help`.
    from bot.settings_commands import TERMINAL, settings_reply
    from commands.errors import UsageError

    settings = load_settings(db)
    engine = open_engine(settings)
    try:
        reply = settings_reply(
            text, here=here, asker=TERMINAL, settings=settings, engine=engine, now=datetime.now(UTC)
        )
    except UsageError as exc:
        errors.print(f"error: {plain(exc.message)}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    console.print(plain(reply), markup=False, highlight=False)


def plain(text: str) -> str:
    """Slack mrkdwn as terminal text: `<#C1>` → #C1, `<@U1>` → @U1, no bold or code marks, no emoji codes."""
    text = _MENTION.sub(lambda m: m.group(1) + m.group(2), text)
    return _MARKUP.sub("", text).replace(":warning: ", "warning: ")


def register(app: typer.Typer, digest: typer.Typer) -> None:
    """Adds `list|add|off` to the `digest` group, and the `alert` and `intake` groups, to `app`."""
    digest.command("list")(digest_list)
    digest.command("add")(digest_add)
    digest.command("off")(digest_off)
    alert = typer.Typer(
        help="Backlog, SLA-risk and anomaly alerts in Slack channels: list, add, turn off, preview.",
        no_args_is_help=True,
    )
    alert.command("list")(alert_list)
    alert.command("add")(alert_add)
    alert.command("off")(alert_off)
    alert.command("sla")(alert_sla)
    alert.command("sla-add")(alert_sla_add)
    alert.command("sla-off")(alert_sla_off)
    alert.command("anomalies")(alert_anomalies)
    alert.command("anomalies-add")(alert_anomalies_add)
    alert.command("anomalies-off")(alert_anomalies_off)
    app.add_typer(alert, name="alert")
    intake = typer.Typer(
        help="Slack channels read as support channels: list, add, turn off.", no_args_is_help=True
    )
    intake.command("list")(intake_list)
    intake.command("add")(intake_add)
    intake.command("off")(intake_off)
    app.add_typer(intake, name="intake")
    sla = typer.Typer(
        help="Service-level policies (targets per channel; the KPI is `kpibot kpi sla`): list, set, reset.",
        no_args_is_help=True,
    )
    sla.command("list")(sla_list)
    sla.command("set")(sla_set)
    sla.command("reset")(sla_reset)
    app.add_typer(sla, name="sla")


def digest_list(db: str = db_option()) -> None:
    """List the digests (daily, weekly, monthly): where, when, for which channels, the next run and the
    last result."""
    apply("digest list", db=db)


def digest_add(
    channel: str = channel_argument(),
    when: str = typer.Argument(
        ...,
        help="Local time of day, HH:MM (daily); or `weekly mon HH:MM`, `monthly 1 HH:MM`.",
        show_default=False,
    ),
    words: list[str] = typer.Argument(
        None, help="Time zone (Europe/Paris; default the workspace's) and support channels (default all)."
    ),
    db: str = db_option(),
) -> None:
    """Post a digest in a Slack channel: `kpibot digest add C0123ABCD 09:00 Europe/Paris twitter` (daily),
    `… weekly mon 09:00` (last week, Mondays), `… monthly 1 09:00` (last month, on the 1st; days 1-28)."""
    apply(" ".join(["digest", when, *(words or [])]), here=channel, db=db)


def digest_off(
    channel: str = channel_argument(),
    cadence: str = typer.Argument("daily", help="Which digest: daily, weekly or monthly."),
    db: str = db_option(),
) -> None:
    """Stop the daily digest in a Slack channel (or its weekly or monthly one: `… C0123ABCD weekly`)."""
    apply(f"digest off {cadence}", here=channel, db=db)


def alert_list(db: str = db_option()) -> None:
    """List the backlog alerts: where, on what condition, for which channels."""
    apply("alert list", db=db)


def alert_add(
    channel: str = channel_argument(),
    words: list[str] = typer.Argument(
        None, help="N (open conversations, default 1), AGE (30m, 4h; default the threshold), channels."
    ),
    db: str = db_option(),
) -> None:
    """Alert a Slack channel when N conversations waited over AGE: `kpibot alert add C0123ABCD 5 4h`."""
    apply(" ".join(["alert", "backlog", *(words or [])]), here=channel, db=db)


def alert_off(channel: str = channel_argument(), db: str = db_option()) -> None:
    """Stop the backlog alert in a Slack channel."""
    apply("alert off", here=channel, db=db)


def intake_list(db: str = db_option()) -> None:
    """List the intake channels: Slack channels whose messages are support conversations."""
    apply("intake list", db=db)


def intake_add(
    channel: str = channel_argument(),
    support_channel: str = typer.Argument(..., help="The support channel they count as, e.g. twitter."),
    db: str = db_option(),
) -> None:
    """Read a Slack channel's messages as conversations of a support channel (invite @kpibot there)."""
    apply(f"intake here {support_channel}", here=channel, db=db)


def intake_off(channel: str = channel_argument(), db: str = db_option()) -> None:
    """Stop reading a Slack channel as an intake channel (conversations stored so far stay)."""
    apply("intake off", here=channel, db=db)


def sla_list(db: str = db_option()) -> None:
    """List every channel's service-level targets and where they come from (set here, the YAML, the
    benchmarks)."""
    apply("sla list", db=db)


def sla_set(
    channel: str = typer.Argument(
        ..., help="A support channel (twitter, x…) or `default`.", show_default=False
    ),
    words: list[str] = typer.Argument(
        ...,
        help="Targets: first DURATION, next DURATION, resolve DURATION (30m, 4h, 2d), and bh for business "
        "hours. A target left out is no target.",
        show_default=False,
    ),
    db: str = db_option(),
) -> None:
    """Set a channel's service levels: `kpibot sla set twitter first 1h next 4h resolve 24h`."""
    apply(" ".join(["sla", "set", channel, *words]), db=db)


def sla_reset(
    channel: str = typer.Argument(..., help="A support channel or `default`.", show_default=False),
    db: str = db_option(),
) -> None:
    """Drop the service levels set here or in Slack for a channel: back to the YAML's, else the benchmarks."""
    apply(f"sla reset {channel}", db=db)


def alert_sla_add(
    channel: str = channel_argument(),
    words: list[str] = typer.Argument(None, help="Support channels to watch (default all)."),
    lead: str = typer.Option("30m", "--lead", help="How far ahead a breach counts as a risk (30m, 2h)."),
    db: str = db_option(),
) -> None:
    """Alert a Slack channel, every minute, about conversations that will miss their service level within
    the lead time: `kpibot alert sla-add C0123ABCD --lead 30m twitter`."""
    apply(" ".join(["alert", "sla", "lead", lead, *(words or [])]), here=channel, db=db)


def alert_sla_off(channel: str = channel_argument(), db: str = db_option()) -> None:
    """Stop the SLA-risk alert in a Slack channel."""
    apply("alert sla off", here=channel, db=db)


def alert_sla(
    words: list[str] = typer.Argument(None, help="Support channels to watch (default all)."),
    preview: bool = typer.Option(True, "--preview", help="Show what the SLA-risk alert would post now."),
    at: str = typer.Option(None, "--at", help="Evaluate as of this instant (ISO 8601) instead of now."),
    lead: str = typer.Option("30m", "--lead", help="How far ahead a breach counts as a risk (30m, 2h)."),
    queue: str = typer.Option(
        None, "--queue", help="Queue ahead of a wait: `channel` or `all` (default: the setting sla_queue)."
    ),
    db: str = db_option(),
) -> None:
    """What the SLA-risk alert would post now: waits and conversations that will miss their service level
    within the lead time, given the queue ahead of them and the team's pace (exit 1 when any)."""
    from commands.sla_risk import at_risk, risk_line
    from storage.settings import parse_duration

    settings = load_settings(db)
    try:
        lead_seconds = parse_duration(lead)
    except ValueError:
        fail(f"--lead {lead!r} is not a duration: use 30m, 2h")
    queue = queue or settings.sla_queue
    if queue not in ("channel", "all"):
        fail(f"--queue is `channel` or `all`, not {queue!r}")
    known = settings.channel_words()
    unknown = [word for word in words or [] if word.lower() not in known]
    if unknown:
        fail(f"unknown support channel {unknown[0]!r}")
    channels = tuple(dict.fromkeys(known[word.lower()] for word in words or []))
    now = at_moment(at, settings.zone)
    engine = open_engine(settings)
    with engine.connect() as conn:
        risks = at_risk(conn, now, channels=channels, lead=lead_seconds, queue=queue)
    if not risks:
        console.print("No conversation is about to miss its service level.", markup=False, highlight=False)
        return
    count = len(risks)
    console.print(
        f"SLA risk: {count} conversation{'s' * (count != 1)} may breach within {lead}", markup=False
    )
    for risk in risks:
        console.print("• " + plain(risk_line(risk, now)), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def alert_anomalies_add(
    channel: str = channel_argument(),
    words: list[str] = typer.Argument(None, help="Support channels to watch (default all)."),
    db: str = db_option(),
) -> None:
    """Alert a Slack channel, checked every minute, when volume, first response, negative sentiment or a
    topic is far from the same hour of previous weeks: `kpibot alert anomalies-add C0123ABCD instagram`."""
    apply(" ".join(["alert", "anomalies", *(words or [])]), here=channel, db=db)


def alert_anomalies_off(channel: str = channel_argument(), db: str = db_option()) -> None:
    """Stop the anomaly alert in a Slack channel."""
    apply("alert anomalies off", here=channel, db=db)


def alert_anomalies(
    words: list[str] = typer.Argument(None, help="Support channels to watch (default all)."),
    preview: bool = typer.Option(True, "--preview", help="Show what the anomaly alert would post now."),
    at: str = typer.Option(None, "--at", help="Evaluate as of this instant (ISO 8601) instead of now."),
    db: str = db_option(),
) -> None:
    """What an anomaly alert would post at this instant (none of its episodes open yet), without posting
    or storing anything: each signal far from the same hour of previous weeks (exit 1 when any)."""
    from html import unescape

    from commands.anomaly_alert import preview_lines
    from commands.anomaly_read import evaluate

    settings = load_settings(db)
    known = settings.channel_words()
    unknown = [word for word in words or [] if word.lower() not in known and word.lower() != "all"]
    if unknown:
        fail(f"unknown support channel {unknown[0]!r}")
    channels = tuple(dict.fromkeys(known[word.lower()] for word in words or [] if word.lower() in known))
    now = at_moment(at, settings.zone)
    engine = open_engine(settings)
    with engine.connect() as conn:
        lines = preview_lines(evaluate(conn, settings, channels, now), settings)
    if not lines:
        console.print(f"No anomaly at {now:%Y-%m-%d %H:%M} UTC.", markup=False, highlight=False)
        return
    for line in lines:  # mrkdwn's escapes (&lt; for <) back to the characters
        shown = unescape(plain(line)).replace(":rotating_light: ", "")
        console.print(shown, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)
