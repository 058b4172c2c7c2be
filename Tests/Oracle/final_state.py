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

from read_committed import committed_records


def committed_values(path):
    """The values of the read_committed records of one partition directory, in offset order."""
    return [record.value for _, record in committed_records(path)]


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
