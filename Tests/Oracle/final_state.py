"""An independent reader of a table's history in an Outflow log, on kafka-python's
record-batch decoder: reads TOPIC read_committed (aborted transactions dropped, nothing past
the last stable offset) and folds the Debezium-style envelopes in log order per partition —
a read, create or update sets the row, a delete removes it — then prints the final state as
one JSON object {key: row}, the count of reads per key as a second one, and as a third the
keys whose read disagrees with the history before it: a read after the key's delete, or with
a row other than its last change's (a snapshot's read must reflect every change before it).

    python final_state.py LOG_DIR TOPIC
"""
import json
import os
import sys

from kafka.record.memory_records import MemoryRecords


def committed_values(path):
    """The values of the read_committed records of one partition directory, in offset order."""
    visible = []  # (offset, value) of non-transactional and committed records
    pending = {}  # producer id -> [(offset, value)] of its open transaction
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
            rows = [(r.offset, r.value) for r in batch]
            if batch.is_transactional:
                pending.setdefault(batch.producer_id, []).extend(rows)
            else:
                visible.extend(rows)
    open_firsts = [rows[0][0] for rows in pending.values() if rows]
    last_stable = min(open_firsts) if open_firsts else float("inf")
    return [value for offset, value in sorted(visible, key=lambda row: row[0]) if offset < last_stable]


def main():
    log_dir, topic = sys.argv[1], sys.argv[2]
    state, reads, inconsistent = {}, {}, []
    history = {}  # key -> its last record's row (None after a delete)
    for name in sorted(os.listdir(log_dir)):
        if name.rsplit("-", 1)[0] != topic:
            continue
        for value in committed_values(os.path.join(log_dir, name)):
            envelope = json.loads(value)
            row = envelope["after"] if envelope["op"] != "d" else envelope["before"]
            key = str(row["id"])
            if envelope["op"] == "r" and key in history and history[key] != envelope["after"]:
                inconsistent.append(key)
            history[key] = envelope["after"]
            if envelope["op"] == "d":
                state.pop(key, None)
            else:
                state[key] = envelope["after"]
            if envelope["op"] == "r":
                reads[key] = reads.get(key, 0) + 1
    print(json.dumps(state, sort_keys=True))
    print(json.dumps(reads, sort_keys=True))
    print(json.dumps(sorted(set(inconsistent))))


if __name__ == "__main__":
    main()
