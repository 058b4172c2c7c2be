"""A kafka-python consumer in a consumer group that commits in a loop, for the crash tests of
the Kafka endpoint's offset commits (`outflow serve`): subscribe() with GROUP to TOPIC,
read_committed, from the group's committed offsets (the earliest where there are none); each
poll takes at most MAX_RECORDS records, and for every partition in it the offset after its
last record is committed explicitly, so the test knows each value it asked for.

It reports on standard output, one JSON object per line, flushed at once:
    {"records": [[partition, offset, value], ...], "committing": {"partition": offset, ...}}
                                  a batch, and the offsets about to be committed
    {"committed": {"partition": offset, ...}}
                                  the commit succeeded (the endpoint answered without error)
    {"failed": "error"}           the commit failed (a rebalance); nothing of it is durable
    {"idle": true}                with IDLE_SECONDS > 0: nothing new for that long; then it
                                  closes the consumer and exits

    python group_commit_loop.py BOOTSTRAP TOPIC GROUP MAX_RECORDS IDLE_SECONDS
"""
import json
import sys
import time

from kafka import KafkaConsumer, OffsetAndMetadata
from kafka.errors import KafkaError


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    bootstrap, topic, group = sys.argv[1:4]
    max_records, idle_seconds = int(sys.argv[4]), float(sys.argv[5])
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id="commit-loop",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        max_poll_interval_ms=30000,
        request_timeout_ms=40000,
    )
    consumer.subscribe([topic])
    last_records = time.monotonic()
    while True:
        batches = consumer.poll(timeout_ms=200, max_records=max_records)
        if not batches:
            if idle_seconds > 0 and time.monotonic() - last_records > idle_seconds:
                say({"idle": True})
                consumer.close()
                return
            continue
        last_records = time.monotonic()
        records = [[tp.partition, r.offset, r.value.decode()] for tp, rs in batches.items() for r in rs]
        offsets = {tp: OffsetAndMetadata(rs[-1].offset + 1, "", -1) for tp, rs in batches.items() if rs}
        asked = {str(tp.partition): meta.offset for tp, meta in offsets.items()}
        say({"records": records, "committing": asked})
        try:
            consumer.commit(offsets)
        except KafkaError as error:
            say({"failed": repr(error)})
            continue
        say({"committed": asked})


main()
