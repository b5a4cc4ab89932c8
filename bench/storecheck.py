"""After a run: every acked message is in the store once, in the order it was sent, and reached staff once.

Counts from the database rows themselves (conversation, seq, sender, client_msg_id; the encrypted
bodies are not needed) against what the generator recorded:

- lost: an acked message with no row, or whose row carries another seq than its ack did (the ack
  promised a place that is not where the message is); also an acked message no staff socket received.
- duplicated: a client_msg_id stored more than once in its conversation (under any sender), two rows
  with one seq, or one message delivered to staff more than once.
- out of order: a conversation's stored messages whose seq order is not their send order, or a staff
  socket that received a conversation's seqs not strictly rising.

The bench's client_msg_ids are unique over the whole run, so any second row with one is a duplicate.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass

from bench.load import Recorder
from bench.servers import StoredMessage


@dataclass
class StoreCheck:
    acked: int = 0
    lost: int = 0
    undelivered: int = 0
    duplicated: int = 0
    duplicate_deliveries: int = 0
    out_of_order: int = 0
    delivered_out_of_order: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.undelivered
            or self.duplicated
            or self.duplicate_deliveries
            or self.out_of_order
            or self.delivered_out_of_order
        )

    def line(self) -> str:
        return (
            f"{self.acked} acked: lost {self.lost}, not delivered to staff before the drain ended {self.undelivered}, "
            f"duplicated {self.duplicated + self.duplicate_deliveries} (store {self.duplicated}, "
            f"delivered twice {self.duplicate_deliveries}), out of order {self.out_of_order + self.delivered_out_of_order} "
            f"(store {self.out_of_order}, delivery {self.delivered_out_of_order})"
        )


def check(rec: Recorder, rows: list[StoredMessage], check_store: bool = True) -> StoreCheck:
    """``check_store=False`` (the relay, which stores nothing) checks only the deliveries."""
    result = StoreCheck()
    ours = {cmid for cmid in rec.sent}
    by_cmid: dict[tuple[str, str], list[StoredMessage]] = defaultdict(list)
    seqs: Counter[tuple[str, int]] = Counter()
    for row in rows:
        seqs[(row.conversation_id, row.seq)] += 1
        if row.client_msg_id in ours:
            by_cmid[(row.conversation_id, row.client_msg_id)].append(row)
    if check_store:
        result.duplicated += sum(len(found) - 1 for found in by_cmid.values() if len(found) > 1)
        result.duplicated += sum(n - 1 for n in seqs.values() if n > 1)
    # Per conversation: (seq, send order) of its stored bench messages, to compare the two orders.
    placed: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for cmid, sent in rec.sent.items():
        if sent.ack_seq is not None:
            result.acked += 1
            if check_store:
                found = by_cmid.get((sent.conversation, cmid), [])
                if not any(row.seq == sent.ack_seq for row in found):
                    result.lost += 1
            if not sent.deliveries:
                result.undelivered += 1
        if len(sent.deliveries) > 1:
            result.duplicate_deliveries += len(sent.deliveries) - 1
    if check_store:
        for (conversation, cmid), found in by_cmid.items():
            # A duplicate counts once, as a duplicate: the order is that of each message's first row.
            placed[conversation].append((min(row.seq for row in found), rec.sent[cmid].order))
        for pairs in placed.values():
            orders = [order for _seq, order in sorted(pairs)]
            result.out_of_order += sum(1 for a, b in itertools.pairwise(orders) if b < a)
    for arrived in rec.arrivals.values():
        result.delivered_out_of_order += sum(1 for a, b in itertools.pairwise(arrived) if b < a)
    return result
