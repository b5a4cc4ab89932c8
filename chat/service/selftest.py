"""Self-tests (AUDIT, DUDIT) a waiting or chatting visitor fills in: scored by triage, the answers stored
encrypted, the score shown to staff, and a high score raising the conversation's priority."""

from __future__ import annotations

import json
from typing import Any

from chat import logs
from chat.crypto import envelope
from chat.errors import BadInput, Code, Conflict
from chat.service import events, health, keys, routing
from chat.service.context import Context
from chat.store import queue as queue_store
from chat.store.conversations import ConversationRecord
from chat.wire import ScreeningEvent, State, iso
from chat.wire import ScreeningResult as ResultFrame
from triage.region import Priority
from triage.router import Signals, escalate
from triage.screening import ScreeningError, ScreeningResult, explain, score
from triage.topics import self_test_fits


def offered(ctx: Context, conv: ConversationRecord) -> list[str]:
    """The self-tests this conversation's visitor is offered: the region's, when they fit the person."""
    return [i.id for i in ctx.region.screening] if self_test_fits(conv.role, conv.age_band) else []


async def submit(ctx: Context, conv: ConversationRecord, instrument: str, answers: list[int]) -> ResultFrame:
    """Score, store and announce a self-test; returns the visitor's ``screening_result`` frame."""
    if conv.state == State.CLOSED:
        raise Conflict(Code.CONVERSATION_CLOSED, "The conversation is closed.")
    if not self_test_fits(conv.role, conv.age_band):
        raise BadInput(Code.SELF_TEST_NOT_FOR_YOU, "The self-tests are about one's own drinking and drug use: "
                       "they are not offered to children under 13 or to relatives.")
    inst = ctx.region.instrument(instrument)
    if inst is None:
        raise BadInput(Code.UNSUPPORTED, "That self-test is not offered here.")
    try:
        result = score(inst, answers, age_band=conv.age_band, gender=conv.gender)
    except ScreeningError as err:
        raise BadInput(Code.INVALID_ANSWERS, str(err)) from None
    now = ctx.clock()
    conv = await health.opened(ctx, conv)
    assert conv.health is not None
    dek = await keys.dek_for(ctx, conv.id)
    sealed = envelope.seal(dek, json.dumps(answers), keys.screening_aad(conv.id, instrument, now))
    shown = staff_view(result) | {"at": iso(now)}
    await queue_store.add_screening(
        ctx.engine, conv.id, instrument, health.seal_result(dek, conv.id, instrument, now, staff_view(result)), sealed,
        health.seal_screening(dek, conv.id, {**conv.health.screening, instrument: shown}), now,
    )
    esc = escalate(ctx.region, Priority(conv.priority), Signals(screening=(result,)))
    if esc.priority > conv.priority:
        reasons = [*conv.health.reasons, *routing.reasons_json(esc.reasons)]
        await queue_store.raise_priority(ctx.engine, conv.id, int(esc.priority), health.seal_reasons(dek, conv.id, reasons))
    # The result travels sealed (health data); each instance opens it for the holder's staff sockets.
    sealed_event = health.seal_event(dek, conv.id, "screening", {"instrument": instrument, **shown})
    await events.to_conversation(ctx, conv.id, ScreeningEvent(conv.id, sealed_event))
    await events.queue_changed(ctx)
    logs.event("screening_stored", conversation_id=conv.id, instrument=instrument)
    return ResultFrame(instrument, result.score, result.max_score, result.zone,
                       {lang: explain(result, lang) for lang in ctx.region.languages})


def staff_view(result: ScreeningResult) -> dict[str, Any]:
    return {"score": result.score, "max_score": result.max_score, "zone": result.zone, "flagged": result.flagged,
            "cutoff": result.cutoff}
