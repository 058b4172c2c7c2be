"""A stock kafka-python consumer against a Kafka cluster (the Kafka sink's tests use
librdkafka's mock cluster): every partition of TOPIC assigned, read read_committed from the
first offset to each partition's high watermark. Prints one JSON object: per partition, the records in
order, each with its key, value and headers (bytes as UTF-8 text, null as null).

    python consume_kafka.py BOOTSTRAP TOPIC [SECONDS]   (how long it may take; 30 by default)
"""
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition


def text(data):
    return None if data is None else data.decode()


def main():
    bootstrap, topic = sys.argv[1:3]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        request_timeout_ms=20000,
        # librdkafka's mock answers ApiVersions v3+ with an error kafka-python cannot decode;
        # telling it the broker is 2.3 keeps it at ApiVersions v2 (Fetch v11, read_committed).
        api_version=(2, 3, 0),
    )
    deadline = time.monotonic() + seconds
    partitions = consumer.partitions_for_topic(topic)
    while not partitions and time.monotonic() < deadline:
        time.sleep(0.2)  # metadata of a topic just created: asked again until the deadline
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        sys.exit(f"no partitions for {topic}")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    # From offset 0 to the high watermark each Fetch answer reports (the mock's ListOffsets
    # answers are misread by kafka-python, so no seek_to_beginning or end_offsets).
    for tp in assigned:
        consumer.seek(tp, 0)
    records = {str(tp.partition): [] for tp in assigned}
    while True:
        ends = {tp: consumer.highwater(tp) for tp in assigned}
        if all(ends[tp] is not None and consumer.position(tp) >= ends[tp] for tp in assigned):
            break
        if time.monotonic() > deadline:
            sys.exit(f"timed out: positions {[consumer.position(tp) for tp in assigned]}, ends {ends}")
        for tp, batch in consumer.poll(timeout_ms=500).items():
            for r in batch:
                records[str(tp.partition)].append(
                    {"key": text(r.key), "value": text(r.value), "headers": [[k, text(v)] for k, v in r.headers]}
                )
    consumer.close()
    print(json.dumps(records))


main()
