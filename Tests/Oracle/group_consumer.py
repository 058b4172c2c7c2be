"""A stock kafka-python consumer in a consumer group against a Kafka endpoint (`outflow serve`):
subscribe() with GROUP, so the group coordinator assigns it partitions of TOPIC. It reads
read_committed from the group's committed offsets (the earliest where there are none) and
commits after every batch it gets, before it polls again.

It reports on standard output, one JSON object per line, flushed at once:
    {"assigned": [partitions]}                     its assignment, whenever it changes
    {"records": [[partition, offset, value], ...], "committed": true|false}
                                                   a batch, and whether its commit succeeded
    {"closed": true}                               after it left the group
A line "close" on standard input makes it close the consumer (a LeaveGroup) and exit.

    python group_consumer.py BOOTSTRAP TOPIC GROUP CLIENT_ID
"""
import json
import select
import sys

from kafka import KafkaConsumer
from kafka.errors import KafkaError


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    bootstrap, topic, group, client_id = sys.argv[1:5]
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        max_poll_interval_ms=30000,
        request_timeout_ms=40000,
    )
    consumer.subscribe([topic])
    assigned = None
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], 0)
        if ready and sys.stdin.readline().strip() == "close":
            consumer.close()
            say({"closed": True})
            return
        batches = consumer.poll(timeout_ms=200)
        now = sorted(tp.partition for tp in consumer.assignment())
        if now != assigned:
            assigned = now
            say({"assigned": now})
        records = [[tp.partition, r.offset, r.value.decode()] for tp, rs in batches.items() for r in rs]
        if records:
            try:
                consumer.commit()
                committed = True
            except KafkaError as error:
                # A rebalance took the partitions away: another member reads them again.
                sys.stderr.write(f"commit failed: {error!r}\n")
                committed = False
            say({"records": records, "committed": committed})


main()
