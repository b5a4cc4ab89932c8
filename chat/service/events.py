"""The bus channels, and publishing on them.

What travels is typed in ``chat/wire.py`` (conversation events are shaped like the frames of the same name,
so a socket forwards them without building them again). ``c:<conversation>`` carries a conversation's
events; ``queue``, ``s:<staff id>`` and ``t:<team>`` carry signals for staff sockets and the instance's own
jobs (queue changes, claims, offers, alerts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.wire import QueueChanged, Wire
from chat.wire import encode as encode  # publishers of plain dicts still use events.encode

if TYPE_CHECKING:
    from chat.service.context import Context

QUEUE = "queue"
# An admin changed an opening-hours override: every instance reloads them (service/hours_overrides.py).
HOURS = "hours"


def conversation_channel(conversation_id: str) -> str:
    return "c:" + conversation_id


def staff_channel(staff_id: int) -> str:
    return f"s:{staff_id}"


def team_channel(team: str) -> str:
    """Alerts for everyone online in a team (risk signals)."""
    return "t:" + team


async def publish(ctx: Context, channel: str, event: Wire) -> None:
    await ctx.bus.publish(channel, encode(event))


async def to_conversation(ctx: Context, conversation_id: str, event: Wire) -> None:
    await ctx.bus.publish(conversation_channel(conversation_id), encode(event))


async def to_staff(ctx: Context, staff_id: int, event: Wire) -> None:
    await ctx.bus.publish(staff_channel(staff_id), encode(event))


async def queue_changed(ctx: Context) -> None:
    """Every instance's queue watcher reads the queue again (waiting places, staff queues)."""
    await ctx.bus.publish(QUEUE, encode(QueueChanged()))
