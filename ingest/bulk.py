"""Readings messages taken many at once, straight from the worker's receive buffer.

Once the pipeline has accepted a readings message on a topic, the next messages on known
topics are read by :func:`ingest.pipeline.take` (C, ingest/_json_take.h) as they sit in the
buffer paho reads from (ingest/paho_speedup.py): their MQTT framing, their JSON or compact
payloads and their meta lines, in one call, into one :class:`~ingest.buffer.Item` that stands
for all of them (its ``parts``, a token of all their message ids). It stops
before anything it does not take (another packet, an unknown topic, a payload only the
Python paths may judge), which ``IngestService._on_message`` then handles alone; so the
worker holds the same lines and makes the same decisions either way
(tests/ingest/test_take.py), for 10-11 us a message of 50 readings in-process instead of
16-18 (docs/scaling.md, the seventh round of issue 16).
"""

from __future__ import annotations

from ingest import compact_path, pipeline
from ingest.buffer import Buffer, Item, item_size
from ingest.metrics import IngestMetrics
from telemetry import topics
from telemetry.line_block import LineBlock
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import format_float, meta_prefix

#: Readings topics kept (a gateway publishes its readings on one; ~200 bytes each).
TOPICS_KEPT = 16_384
#: Messages taken as one item at most (one read of the socket holds a few to a few hundred).
LIMIT = 1024


class Bulk:
    def __init__(
        self,
        encoder: LineEncoder,
        buffer: Buffer,
        metrics: IngestMetrics,
        batch_size: int,
        max_buffer_bytes: int,
    ) -> None:
        self.encoder, self.buffer, self.metrics = encoder, buffer, metrics
        self.batch_size, self.max_buffer_bytes = batch_size, max_buffer_bytes
        # topic's bytes -> (topic, gateway, meta prefix)
        self.topics: dict[bytes, tuple[str, str, str]] = {}

    def known(self, topic: str, gateway: str) -> None:
        """The pipeline accepted a readings message of *gateway* on *topic*."""
        key = topic.encode()
        if key not in self.topics:
            if len(self.topics) >= TOPICS_KEPT:
                self.topics.clear()
            self.topics[key] = (topic, gateway, meta_prefix(gateway))

    def take(self, buf: bytes, pos: int, generation: int) -> tuple[int, int]:
        """Queue the messages taken from offset *pos* of *buf* as one item (their token: their
        ids and the broker connection *generation*); returns where it stopped and how many."""
        if not self.topics:
            return pos, 0
        limit = self.max_buffer_bytes
        got = pipeline.take(
            buf,
            pos,
            limit - self.buffer.bytes if limit else 1 << 60,  # the byte budget's room
            self.batch_size,
            LIMIT,
            self.topics,
            self.encoder.series,
            format_float,
            compact_path.compact_c(),
            compact_path.inflate,
        )
        if got is None:
            return pos, 0
        end, text, lines, readings, newest, mids, parts = got
        received = self.metrics.received
        received.messages[topics.READINGS] += len(mids)
        received.readings += readings
        received.points += lines
        block = LineBlock(text, lines)
        token = (mids, generation)
        item = Item(block, parts[0][0], None, newest, token=token, parts=parts)
        item.size = item_size(block, None)
        self.buffer.put(item)
        return end, len(mids)
