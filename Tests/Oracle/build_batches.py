"""Builds record batches with kafka-python 3.0.12's own builder, for Outflow to read.

Usage: build_batches.py OUT_FILE  ->  writes the batches back to back into OUT_FILE (base
offsets 0, 1, ... as a broker would assign them) and prints the records they hold as JSON.
"""
import json
import struct
import sys

import kafka
import zstandard
from kafka.record.default_records import DefaultRecordBatchBuilder

assert kafka.__version__ == "3.0.12", kafka.__version__
assert zstandard.__version__ == "0.25.0", zstandard.__version__

ZSTD, NONE = 4, 0


def build(compression, records, base_offset, transactional=False, producer=(-1, -1, -1)):
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=compression, is_transactional=transactional,
        producer_id=producer[0], producer_epoch=producer[1], base_sequence=producer[2],
        batch_size=1 << 20)
    for delta, (timestamp, key, value, headers) in enumerate(records):
        builder.append(delta, timestamp=timestamp, key=key, value=value, headers=headers)
    buffer = builder.build()
    struct.pack_into(">q", buffer, 0, base_offset)  # the CRC does not cover the base offset
    return bytes(buffer)


def main():
    out_path = sys.argv[1]
    cases = [
        (ZSTD, [
            (1700000000000, b"key-1", b'{"id": 1, "note": "' + b"x" * 300 + b'"}', [("outflow.lsn", b"0/16B3748"), ("empty", None)]),
            (1700000000005, None, b"value without key " * 20, []),
            (1699999999000, b"", None, [("h", b"\x00\xff")]),
        ], False, (-1, -1, -1)),
        (NONE, [(1700000001000, b"plain", b"uncompressed", [("k", b"v")])], False, (-1, -1, -1)),
        (ZSTD, [(1700000002000 + i, b"t%d" % i, b"transactional " * 30, []) for i in range(5)], True, (4242, 7, 0)),
    ]
    output = bytearray()
    expected = []
    offset = 0
    for compression, records, transactional, producer in cases:
        batch = build(compression, records, offset, transactional, producer)
        attributes = struct.unpack_from(">h", batch, 21)[0]
        assert attributes & 7 == compression, "kafka-python chose not to compress"
        output += batch
        for delta, (timestamp, key, value, headers) in enumerate(records):
            expected.append({
                "offset": offset + delta, "timestamp": timestamp,
                "key": None if key is None else key.hex(), "value": None if value is None else value.hex(),
                "headers": [[k, None if v is None else v.hex()] for k, v in headers],
                "compression": compression, "transactional": transactional,
                "producer_id": producer[0], "producer_epoch": producer[1],
            })
        offset += len(records)
    with open(out_path, "wb") as out:
        out.write(output)
    json.dump(expected, sys.stdout)


main()
