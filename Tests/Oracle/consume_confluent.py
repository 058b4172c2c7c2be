"""A stock confluent-kafka (librdkafka) consumer against a Kafka endpoint (`outflow serve`):
every partition of TOPIC assigned by the consumer itself, from where MODE says, read until
librdkafka reports the end of each partition (the last stable offset in read_committed) or
an error for it. Prints one JSON object: the topic's partitions, per partition the
[offset, value] pairs received in order, the offsets the start was resolved to, and the
errors librdkafka reported.

    python consume_confluent.py BOOTSTRAP TOPIC read_committed|read_uncommitted MODE [ARG] [RESET]

MODE: beginning; timestamp MS (offsets_for_times); offset N (every partition from N).
RESET: auto.offset.reset (default earliest).
"""
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition


def main():
    bootstrap, topic, isolation, mode = sys.argv[1:5]
    rest = sys.argv[5:]
    argument = int(rest.pop(0)) if mode in ("timestamp", "offset") else None
    reset = rest.pop(0) if rest else "earliest"
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "confluent-oracle",
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "auto.offset.reset": reset,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
    })
    metadata = consumer.list_topics(topic, timeout=20)
    partitions = sorted(metadata.topics[topic].partitions)
    if not partitions:
        sys.exit(f"no partitions for {topic}")
    if mode == "beginning":
        start = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
    elif mode == "timestamp":
        wanted = [TopicPartition(topic, p, argument) for p in partitions]
        start = consumer.offsets_for_times(wanted, timeout=20)
        # No record at or after the time: -1, read from the end (nothing).
        start = [TopicPartition(topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in start]
    elif mode == "offset":
        start = [TopicPartition(topic, p, argument) for p in partitions]
    else:
        sys.exit(f"unknown mode {mode}")
    resolved = {str(tp.partition): tp.offset for tp in start}
    consumer.assign(start)
    records = {str(p): [] for p in partitions}
    errors = []
    done = set()
    deadline = time.monotonic() + 30
    while len(done) < len(partitions):
        if time.monotonic() > deadline:
            sys.exit(f"timed out: done {sorted(done)}, records {records}, errors {errors}")
        message = consumer.poll(0.5)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                done.add(message.partition())
            else:
                errors.append({"partition": message.partition(), "code": error.code(), "name": error.name(), "text": error.str()})
                if message.partition() is not None and message.partition() >= 0:
                    done.add(message.partition())
            continue
        records[str(message.partition())].append([message.offset(), message.value().decode()])
    consumer.close()
    print(json.dumps({"partitions": partitions, "records": records, "resolved": resolved, "errors": errors}))


main()
