"""The JagaJalan telemetry contract: topics, payload models, codec, units, InfluxDB mapping.

Everything in this package is pure (no sockets, files or clocks) so that gateways, ingest,
simulators and tests share exactly one definition of what goes over the wire.
"""

from telemetry.codec import DecodeError, decode_batch, decode_status, encode_batch, encode_status
from telemetry.models import PAYLOAD_VERSION, Batch, Reading, Status

__all__ = [
    "PAYLOAD_VERSION",
    "Batch",
    "DecodeError",
    "Reading",
    "Status",
    "decode_batch",
    "decode_status",
    "encode_batch",
    "encode_status",
]
