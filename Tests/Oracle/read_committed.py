"""An independent read_committed reader of an Outflow log, on kafka-python's record-batch
decoder: prints `partition offset id-header` for every record of TOPIC a read_committed Kafka
consumer would receive (data before the last stable offset, aborted transactions dropped).

    python read_committed.py LOG_DIR TOPIC
"""
import os
import sys

from kafka.record.memory_records import MemoryRecords


def committed_records(path):
    """(offset, record) of the read_committed records of one partition directory, in offset
    order: non-transactional and committed records before the last stable offset."""
    visible = []  # (offset, record) of non-transactional and committed records
    pending = {}  # producer id -> [(offset, record)] of its open transaction
    for name in sorted(n for n in os.listdir(path) if n.endswith(".log")):
        with open(os.path.join(path, name), "rb") as f:
            records = MemoryRecords(f.read())
        while records.has_next():
            batch = records.next_batch()
            if batch is None:
                break
            if batch.is_control_batch:
                for control in batch:
                    done = pending.pop(batch.producer_id, [])
                    if control.commit:
                        visible.extend(done)
                continue
            rows = [(r.offset, r) for r in batch]
            if batch.is_transactional:
                pending.setdefault(batch.producer_id, []).extend(rows)
            else:
                visible.extend(rows)
    open_firsts = [rows[0][0] for rows in pending.values() if rows]
    last_stable = min(open_firsts) if open_firsts else float("inf")
    return sorted((row for row in visible if row[0] < last_stable), key=lambda row: row[0])


def partition_records(path):
    """(offset, id header) of the read_committed records of one partition directory."""
    return [(offset, dict(record.headers).get("id", b"?").decode()) for offset, record in committed_records(path)]


def main():
    log_dir, topic = sys.argv[1], sys.argv[2]
    for name in sorted(os.listdir(log_dir)):
        prefix, _, partition = name.rpartition("-")
        if prefix != topic or not partition.isdigit():
            continue
        for offset, ident in partition_records(os.path.join(log_dir, name)):
            print(partition, offset, ident)


if __name__ == "__main__":
    main()
