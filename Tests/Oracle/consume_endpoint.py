"""A stock kafka-python consumer against a Kafka endpoint (`outflow serve`): every partition
of TOPIC assigned by the consumer itself, read until each partition's end (as the endpoint
reports it for ISOLATION). Without GROUP it starts at the earliest offset; with GROUP it
starts at the group's committed offsets (the earliest where there are none) and commits its
positions at the end. Prints one JSON object: the topic's partitions and, per partition, the
values received in order.

    python consume_endpoint.py BOOTSTRAP TOPIC read_committed|read_uncommitted [GROUP]
"""
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def main():
    bootstrap, topic, isolation = sys.argv[1:4]
    group = sys.argv[4] if len(sys.argv) > 4 else None
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
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
    if group is None:
        consumer.seek_to_beginning()
    ends = consumer.end_offsets(assigned)
    values = {str(tp.partition): [] for tp in assigned}
    deadline = time.monotonic() + 30
    while any(consumer.position(tp) < ends[tp] for tp in assigned):
        if time.monotonic() > deadline:
            sys.exit(f"timed out: positions {[consumer.position(tp) for tp in assigned]}, ends {ends}")
        for tp, records in consumer.poll(timeout_ms=500).items():
            values[str(tp.partition)].extend(r.value.decode() for r in records)
    if group is not None:
        consumer.commit()
    consumer.close()
    print(json.dumps({"partitions": sorted(partitions), "values": values}))


main()
