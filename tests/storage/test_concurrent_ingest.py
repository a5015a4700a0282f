"""Two processes ingesting events of the same conversations at once (webhooks behind a load balancer).

Each projection must end up as if the events had come one by one: no update lost between the two.
"""

from sqlalchemy import select

from storage.db import make_engine
from storage.ingest import Ingestor
from storage.models import Conversation, SlaClock
from storage.rebuild import rebuild_conversations
from tests.concurrently import at_once
from tests.storage.builders import inbound, reply
from tests.storage.conftest import feed

CONVERSATIONS = 20
ROUNDS = 6


def _projections(engine) -> tuple[list, list]:
    with engine.connect() as conn:
        conversations = conn.execute(
            select(Conversation.external_id, Conversation.frt_seconds, Conversation.last_message_at).order_by(
                Conversation.external_id
            )
        ).all()
        waits = conn.execute(
            select(SlaClock.conversation_id, SlaClock.start_at, SlaClock.end_at)
            .where(SlaClock.kind.in_(("first", "next")))
            .order_by(SlaClock.conversation_id, SlaClock.start_at)
        ).all()
    return conversations, waits


def test_events_of_one_conversation_ingested_at_once_by_two_processes_lose_no_update(database_url, settings):
    engines = [make_engine(database_url) for _ in range(2)]
    ingestors = [Ingestor(engine, settings, analyse_text=False) for engine in engines]
    convs = [f"tw-{n}" for n in range(CONVERSATIONS)]
    errors: list[Exception] = []
    for r in range(ROUNDS):
        # In each round one process gets the customer's messages, the other the agent's replies;
        # round 0 creates the conversations, both processes at once.
        batches = [
            [inbound(f"{c}-in{r}", 10 * r + 1, conv=c) for c in convs],
            [reply(f"{c}-out{r}", 10 * r + 2, conv=c) for c in convs],
        ]
        outcomes = at_once(*(lambda n=n, batches=batches: feed(ingestors[n], batches[n]) for n in range(2)))
        errors += [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    raced = _projections(engines[0])
    with engines[0].begin() as conn:  # replay every conversation from its stored events
        rebuild_conversations(conn, conn.execute(select(Conversation.id)).scalars().all())
    replayed = _projections(engines[0])
    for engine in engines:
        engine.dispose()

    assert errors == []
    # Every conversation was last touched by round 5's reply at minute 52 (09:52)...
    assert {row.last_message_at.minute for row in replayed[0]} == {52}
    # ...and the projections written during the race are exactly the replayed ones.
    assert raced == replayed


def test_two_processes_generating_the_pseudonym_key_at_once_agree_on_one(database_url):
    from storage.privacy import pseudonymiser
    from storage.settings import Settings

    engines = [make_engine(database_url) for _ in range(2)]

    pseudonyms = at_once(*(lambda e=e: pseudonymiser(Settings(), e)("@ana") for e in engines))
    for engine in engines:
        engine.dispose()

    assert pseudonyms[0] == pseudonyms[1] and pseudonyms[0].startswith("c_")


def test_a_lead_and_its_conversion_stored_at_once_by_two_processes_are_linked(database_url, settings):
    from storage.models import Lead

    engines = [make_engine(database_url) for _ in range(2)]
    ingestors = [Ingestor(engine, settings, analyse_text=False) for engine in engines]
    for r in range(5):  # 5 rounds of 20 conversations: leads to one process, conversions to the other
        leads = [
            {
                "id": f"l{r}-{n}",
                "type": "lead",
                "at": "2026-11-20T10:00:00Z",
                "conversation_id": f"fb-{r}-{n}",
            }
            for n in range(20)
        ]
        conversions = [
            {
                "id": f"c{r}-{n}",
                "type": "conversion",
                "at": "2026-11-21T10:00:00Z",
                "conversation_id": f"fb-{r}-{n}",
            }
            for n in range(20)
        ]
        outcomes = at_once(
            lambda mine=leads: feed(ingestors[0], mine), lambda theirs=conversions: feed(ingestors[1], theirs)
        )
        assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    with engines[0].connect() as conn:
        converted = conn.execute(select(Lead.converted_at.is_not(None))).scalars().all()
    for engine in engines:
        engine.dispose()

    assert len(converted) == 100 and all(converted)
