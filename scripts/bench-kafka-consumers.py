#!/usr/bin/env python3
"""Kafka consumers against `outflow serve`, for `make bench` (confluent-kafka, librdkafka).

  bench-kafka-consumers.py BOOTSTRAP TOPIC PARTITIONS EXPECTED [ACTIVE] [IDLE]

ACTIVE consumers (default 1) each read every partition from the beginning, read_committed,
until each has EXPECTED records; IDLE consumers (default 0) sit at the end of every partition,
long-polling. Prints one JSON object: records and value bytes per active consumer, and the
seconds from the first active consumer's start until the last has everything.
"""
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition


def consumer(bootstrap, group):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "fetch.wait.max.ms": 500,
        "api.version.request": True,
    })


def main():
    bootstrap, topic, partitions, expected = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    active_count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    idle_count = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    idle = []
    for index in range(idle_count):
        c = consumer(bootstrap, f"bench-idle-{index}")
        c.assign([TopicPartition(topic, p, OFFSET_END) for p in range(partitions)])
        c.poll(0)
        idle.append(c)
    active = []
    for index in range(active_count):
        c = consumer(bootstrap, f"bench-active-{index}")
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        active.append(c)
    counts = [0] * active_count
    value_bytes = [0] * active_count
    start = time.monotonic()
    deadline = start + 600
    while any(n < expected for n in counts):
        if time.monotonic() > deadline:
            sys.exit(f"timed out: {counts} of {expected}")
        for index, c in enumerate(active):
            if counts[index] >= expected:
                continue
            for message in c.consume(num_messages=10000, timeout=0.5):
                if message.error():
                    sys.exit(f"consumer error: {message.error()}")
                value = message.value()
                if value is None:
                    sys.exit("a record without a value")
                counts[index] += 1
                value_bytes[index] += len(value)
        for c in idle:
            c.poll(0)
    seconds = time.monotonic() - start
    # Hold every connection open while the caller reads the server's memory.
    print(json.dumps({"records": counts, "value_bytes": value_bytes, "seconds": seconds}), flush=True)
    sys.stdin.readline()
    for c in active + idle:
        c.close()


if __name__ == "__main__":
    main()
