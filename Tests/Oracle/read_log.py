"""Independent reader for Outflow log directories, built on kafka-python 3.0.12.

Usage: read_log.py LOG_DIR  ->  JSON on stdout; exit 1 (with messages on stderr) when any
segment does not parse, fails a CRC, has bytes kafka-python cannot read, or carries a control
batch that is not a well-formed COMMIT/ABORT marker.

For each partition directory it reports every batch, and the records kafka-python's consumer
delivers at read_committed (Fetcher.PartitionRecords with the aborted transactions from the
.txnindex files, over the bytes below the last stable offset) and at read_uncommitted.
"""
import collections
import json
import os
import re
import struct
import sys

import kafka
from kafka.consumer.fetcher import Fetcher
from kafka.protocol.consumer.offsets import IsolationLevel
from kafka.record.memory_records import MemoryRecords
from kafka.structs import TopicPartition

assert kafka.__version__ == "3.0.12", kafka.__version__

AbortedTxn = collections.namedtuple("AbortedTxn", ["producer_id", "first_offset"])
PARTITION_DIR = re.compile(r"^(?P<topic>[A-Za-z0-9._-]+)-(?P<partition>\d+)$")
errors = []


def fail(message):
    errors.append(message)


def hexbytes(value):
    return None if value is None else bytes(value).hex()


def record_json(record):
    return {
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": hexbytes(record.key),
        "value": hexbytes(record.value),
        "headers": [[k, hexbytes(v)] for k, v in record.headers],
    }


def check_indexes(path, name, batches):
    """Kafka's .index (>ii: relative offset, position of the batch ending at that offset) and
    .timeindex (>qi: largest timestamp up to that relative offset, strictly rising)."""
    base = int(name[:20])
    positions = {}
    position = 0
    for b in batches:
        positions[position] = b
        position += b["size"]
    index = open(os.path.join(path, name[:-4] + ".index"), "rb").read()
    if len(index) % 8:
        fail(f"{name}: .index size {len(index)} is not a multiple of 8")
    for at in range(0, len(index) - len(index) % 8, 8):
        relative, pos = struct.unpack_from(">ii", index, at)
        batch = positions.get(pos)
        if batch is None or batch["last_offset"] != base + relative:
            fail(f"{name}: .index entry ({relative}, {pos}) does not point at the batch ending at offset {base + relative}")
    timeindex = open(os.path.join(path, name[:-4] + ".timeindex"), "rb").read()
    if len(timeindex) % 12:
        fail(f"{name}: .timeindex size {len(timeindex)} is not a multiple of 12")
    previous = None
    for at in range(0, len(timeindex) - len(timeindex) % 12, 12):
        timestamp, relative = struct.unpack_from(">qi", timeindex, at)
        if previous is not None and timestamp <= previous:
            fail(f"{name}: .timeindex timestamps do not rise at entry {at // 12}")
        previous = timestamp
        if not any(b["last_offset"] == base + relative for b in batches):
            fail(f"{name}: .timeindex entry ({timestamp}, {relative}) names no batch's last offset")


def read_partition(path, topic, partition):
    segments = sorted(name for name in os.listdir(path) if name.endswith(".log"))
    whole = bytearray()
    report = {"segments": [], "aborted": []}
    for name in segments:
        data = open(os.path.join(path, name), "rb").read()
        records = MemoryRecords(data)
        valid = records.valid_bytes()
        if valid != len(data):
            fail(f"{name}: only {valid} of {len(data)} bytes are whole batches")
        batches = []
        expected_base = int(name[:20])
        while records.has_next():
            batch = records.next_batch()
            if batch is None:
                break
            entry = {
                "base_offset": batch.base_offset,
                "last_offset": batch.last_offset,
                "crc_ok": batch.validate_crc(),
                "compression_type": batch.compression_type,
                "is_transactional": batch.is_transactional,
                "is_control": batch.is_control_batch,
                "producer_id": batch.producer_id,
                "producer_epoch": batch.producer_epoch,
                "base_sequence": batch.base_sequence,
                "records_count": batch.records_count,
                "size": batch.size_in_bytes,
            }
            if not entry["crc_ok"]:
                fail(f"{name}: CRC mismatch in batch at offset {batch.base_offset}")
            if batch.base_offset < expected_base:
                fail(f"{name}: batch offset {batch.base_offset} below the segment base {expected_base}")
            expected_base = batch.last_offset + 1
            if batch.is_control_batch:
                controls = list(batch)
                if len(controls) != 1 or batch.size_in_bytes != 78 or batch.compression_type != 0:
                    fail(f"{name}: control batch at {batch.base_offset} is not one uncompressed 78-byte record")
                elif controls[0].type not in (0, 1):
                    fail(f"{name}: control batch at {batch.base_offset} has type {controls[0].type}")
                else:
                    entry["control_type"] = "COMMIT" if controls[0].commit else "ABORT"
            else:
                # Decompresses and parses every record (kafka-python checks lengths as it goes).
                entry["record_offsets"] = [record.offset for record in batch]
            batches.append(entry)
        report["segments"].append({"file": name, "size": len(data), "batches": batches})
        check_indexes(path, name, batches)
        whole += data
        txnindex = os.path.join(path, name[:-4] + ".txnindex")
        if os.path.exists(txnindex):
            raw = open(txnindex, "rb").read()
            if len(raw) % 34:
                fail(f"{txnindex}: size {len(raw)} is not a multiple of 34")
            for at in range(0, len(raw) - len(raw) % 34, 34):
                version, producer_id, first, last, lso = struct.unpack_from(">hqqqq", raw, at)
                report["aborted"].append([producer_id, first, last, lso])

    # Last stable offset, computed here from batch headers alone: the first offset of the
    # oldest transaction without a marker yet, or the end of the log.
    all_batches = [b for s in report["segments"] for b in s["batches"]]
    open_txns = {}
    for b in all_batches:
        if b["producer_id"] >= 0 and b["is_transactional"]:
            if b["is_control"]:
                open_txns.pop(b["producer_id"], None)
            else:
                open_txns.setdefault(b["producer_id"], b["base_offset"])
    end = all_batches[-1]["last_offset"] + 1 if all_batches else 0
    lso = min(open_txns.values()) if open_txns else end
    report["last_stable_offset"] = lso
    report["end_offset"] = end

    stable = bytearray()
    position = 0
    for segment in report["segments"]:
        for b in segment["batches"]:
            if b["base_offset"] < lso:
                stable += whole[position:position + b["size"]]
            position += b["size"]

    tp = TopicPartition(topic, partition)
    aborted = [AbortedTxn(p, f) for p, f, _, _ in report["aborted"]]
    start = all_batches[0]["base_offset"] if all_batches else 0
    committed = Fetcher.PartitionRecords(
        start, tp, MemoryRecords(bytes(stable)),
        isolation_level=IsolationLevel.READ_COMMITTED, aborted_transactions=aborted).take()
    uncommitted = Fetcher.PartitionRecords(
        start, tp, MemoryRecords(bytes(whole)), isolation_level=IsolationLevel.READ_UNCOMMITTED).take()
    report["read_committed"] = [record_json(r) for r in committed]
    report["read_uncommitted"] = [record_json(r) for r in uncommitted]
    return report


def main():
    log_dir = sys.argv[1]
    result = {}
    for name in sorted(os.listdir(log_dir)):
        match = PARTITION_DIR.match(name)
        path = os.path.join(log_dir, name)
        if match and os.path.isdir(path):
            result[name] = read_partition(path, match["topic"], int(match["partition"]))
    transactions = os.path.join(log_dir, "__transactions")
    commit_records = 0
    if os.path.isdir(transactions):
        for name in sorted(n for n in os.listdir(transactions) if n.endswith(".log")):
            data = open(os.path.join(transactions, name), "rb").read()
            records = MemoryRecords(data)
            if records.valid_bytes() != len(data):
                fail(f"__transactions/{name}: only {records.valid_bytes()} of {len(data)} bytes are whole batches")
            while records.has_next():
                batch = records.next_batch()
                if batch is None:
                    break
                if not batch.validate_crc():
                    fail(f"__transactions/{name}: CRC mismatch at offset {batch.base_offset}")
                commit_records += sum(1 for _ in batch)
    json.dump({"partitions": result, "commit_records": commit_records, "errors": errors}, sys.stdout)
    if errors:
        for message in errors:
            print(message, file=sys.stderr)
        sys.exit(1)


main()
