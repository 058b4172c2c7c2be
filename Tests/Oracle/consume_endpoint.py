"""A stock kafka-python consumer against a Kafka endpoint (`outflow serve`): no group, every
partition of TOPIC assigned, from the earliest offset until each partition's end (as the
endpoint reports it for ISOLATION). Prints one JSON object: the topic's partitions and, per
partition, the values received in order.

    python consume_endpoint.py BOOTSTRAP TOPIC read_committed|read_uncommitted
"""
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def main():
    bootstrap, topic, isolation = sys.argv[1:4]
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level=isolation,
        request_timeout_ms=20000,
    )
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        sys.exit(f"no partitions for {topic}")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(assigned)
    values = {str(tp.partition): [] for tp in assigned}
    deadline = time.monotonic() + 30
    while any(consumer.position(tp) < ends[tp] for tp in assigned):
        if time.monotonic() > deadline:
            sys.exit(f"timed out: positions {[consumer.position(tp) for tp in assigned]}, ends {ends}")
        for tp, records in consumer.poll(timeout_ms=500).items():
            values[str(tp.partition)].extend(r.value.decode() for r in records)
    consumer.close()
    print(json.dumps({"partitions": sorted(partitions), "values": values}))


main()
