"""Checks a drained log by content, with kafka-python's record-batch decoder rather than
Outflow's own reader: every row the database holds appears exactly once among the records of
TOPIC a read_committed Kafka consumer would receive, and nothing else does.

    psql ... -c "COPY (SELECT id, payload FROM public.outbox) TO STDOUT" \
        | python check_drain.py LOG_DIR TOPIC

A row is its outbox id and its payload as text (COPY's text format); a record is its `id`
header (the outbox stage's event id) and its value. Both sides are reduced to one hash per
row so that a million rows fit in memory. Prints one line:

    records R expected E missing M duplicated D unexpected U uncommitted O

and exits 1 unless R == E and M, D, U are 0 (records of a transaction without a marker are
counted in O: a drain that ended cleanly leaves none, so they are reported, not accepted).
"""
import os
import re
import sys

from kafka.record.memory_records import MemoryRecords

# COPY's text format escapes a backslash and control characters with a backslash.
COPY_ESCAPE = re.compile(rb"\\(.)")
COPY_ESCAPES = {b"\\": b"\\", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def unescape(field):
    if b"\\" not in field:
        return field
    return COPY_ESCAPE.sub(lambda m: COPY_ESCAPES.get(m.group(1), m.group(1)), field)


def expected_rows(stream):
    """The hash of (id, payload) of every row COPY wrote."""
    rows = set()
    for line in stream:
        fields = line.rstrip(b"\n").split(b"\t")
        if len(fields) != 2:
            sys.exit(f"check_drain: a COPY line without two fields: {line[:80]!r}")
        rows.add(hash((unescape(fields[0]), unescape(fields[1]))))
    return rows


def partition_rows(path):
    """(hashes of the read_committed records, count of records left in open transactions) of
    one partition directory: committed and non-transactional records before the last stable
    offset, aborted transactions dropped, read batch by batch from the segment files."""
    visible = []  # (offset, hash)
    pending = {}  # producer id -> [(offset, hash)] of its open transaction
    for name in sorted(n for n in os.listdir(path) if n.endswith(".log")):
        with open(os.path.join(path, name), "rb") as f:
            data = f.read()
        records = MemoryRecords(data)
        if records.valid_bytes() != len(data):
            sys.exit(f"check_drain: {path}/{name}: only {records.valid_bytes()} of {len(data)} bytes are whole batches")
        while records.has_next():
            batch = records.next_batch()
            if batch is None:
                break
            if not batch.validate_crc():
                sys.exit(f"check_drain: {path}/{name}: CRC mismatch in the batch at offset {batch.base_offset}")
            if batch.is_control_batch:
                for control in batch:
                    done = pending.pop(batch.producer_id, [])
                    if control.commit:
                        visible.extend(done)
                continue
            rows = []
            for record in batch:
                ids = [value for key, value in record.headers if key == "id"]
                rows.append((record.offset, hash((bytes(ids[0]) if len(ids) == 1 else None, bytes(record.value or b"")))))
            if batch.is_transactional:
                pending.setdefault(batch.producer_id, []).extend(rows)
            else:
                visible.extend(rows)
    open_firsts = [rows[0][0] for rows in pending.values() if rows]
    last_stable = min(open_firsts) if open_firsts else float("inf")
    uncommitted = sum(len(rows) for rows in pending.values())
    return [h for offset, h in visible if offset < last_stable], uncommitted


def main():
    log_dir, topic = sys.argv[1], sys.argv[2]
    expected = expected_rows(sys.stdin.buffer)
    pattern = re.compile(r"^" + re.escape(topic) + r"-\d+$")
    seen = set()
    records = duplicated = unexpected = uncommitted = 0
    for name in sorted(os.listdir(log_dir)):
        path = os.path.join(log_dir, name)
        if not (pattern.match(name) and os.path.isdir(path)):
            continue
        hashes, open_records = partition_rows(path)
        uncommitted += open_records
        for h in hashes:
            records += 1
            if h not in expected:
                unexpected += 1
            elif h in seen:
                duplicated += 1
            else:
                seen.add(h)
    missing = len(expected) - len(seen)
    print(f"records {records} expected {len(expected)} missing {missing} duplicated {duplicated} "
          f"unexpected {unexpected} uncommitted {uncommitted}")
    if records != len(expected) or missing or duplicated or unexpected:
        sys.exit(1)


if __name__ == "__main__":
    main()
