"""A stock Kafka consumer (kafka-python or confluent-kafka) against a Kafka endpoint with TLS
and SASL (`outflow serve --tls-certificate … --users …`). Reads every partition of TOPIC from
the beginning to its end, read_committed, and also lists the topics the endpoint shows.
Prints one JSON object:

    {"outcome": "read", "topics": [...], "partitions": [...], "values": {"0": [...], ...}}
    {"outcome": "authentication_failed", "error": "..."}   the client reported a SASL failure
    {"outcome": "topic_authorization_failed", "topics": [...], "error": "..."}
                                                            TOPIC is refused (and not listed)

Any other outcome (a timeout, another error) exits non-zero.

    python consume_secure.py kafka-python|confluent BOOTSTRAP TOPIC

Security from the environment (the password stays off the command line):
OUTFLOW_TEST_PROTOCOL (SASL_SSL, SSL, SASL_PLAINTEXT), OUTFLOW_TEST_CA (CA file, PEM),
OUTFLOW_TEST_MECHANISM, OUTFLOW_TEST_USER, OUTFLOW_TEST_PASSWORD.
"""
import json
import logging
import os
import sys
import time


class Captured(logging.Handler):
    """kafka-python reports a refused authentication in its log and then, having no broker,
    times out bootstrapping: the log records are how it tells."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def settings():
    return {
        "protocol": os.environ.get("OUTFLOW_TEST_PROTOCOL", "SASL_SSL"),
        "ca": os.environ.get("OUTFLOW_TEST_CA"),
        "mechanism": os.environ.get("OUTFLOW_TEST_MECHANISM"),
        "user": os.environ.get("OUTFLOW_TEST_USER"),
        "password": os.environ.get("OUTFLOW_TEST_PASSWORD"),
    }


def with_kafka_python(bootstrap, topic):
    from kafka import KafkaConsumer, TopicPartition
    from kafka import errors

    s = settings()
    captured = Captured()
    logging.getLogger("kafka").addHandler(captured)
    logging.getLogger("kafka").setLevel(logging.ERROR)
    options = dict(
        bootstrap_servers=bootstrap,
        bootstrap_timeout_ms=10000,
        security_protocol=s["protocol"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        request_timeout_ms=20000,
    )
    if s["ca"]:
        options.update(ssl_cafile=s["ca"], ssl_check_hostname=True)
    topics = []
    if s["mechanism"]:
        options.update(sasl_mechanism=s["mechanism"], sasl_plain_username=s["user"], sasl_plain_password=s["password"])
    try:
        try:
            consumer = KafkaConsumer(**options)
        except errors.KafkaTimeoutError:
            refusals = [m for m in captured.messages if "SaslAuthenticationFailedError" in m]
            if refusals:
                return {"outcome": "authentication_failed", "error": refusals[0]}
            raise
        topics = sorted(consumer.topics())
        if topic not in topics:
            # Asked for by name: the endpoint answers TOPIC_AUTHORIZATION_FAILED.
            consumer.assign([TopicPartition(topic, 0)])
            consumer.end_offsets([TopicPartition(topic, 0)])
            sys.exit(f"{topic} is not listed ({topics}) but its offsets were answered")
        partitions = sorted(consumer.partitions_for_topic(topic))
        assigned = [TopicPartition(topic, p) for p in partitions]
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
        return {"outcome": "read", "topics": topics, "partitions": partitions, "values": values}
    except errors.SaslAuthenticationFailedError as error:
        return {"outcome": "authentication_failed", "error": f"{type(error).__name__}: {error}"}
    except errors.TopicAuthorizationFailedError as error:
        return {"outcome": "topic_authorization_failed", "topics": topics, "error": f"{type(error).__name__}: {error}"}


def with_confluent(bootstrap, topic):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

    s = settings()
    reported = []
    config = {
        "bootstrap.servers": bootstrap,
        "security.protocol": s["protocol"],
        "group.id": "confluent-secure-oracle",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
        "error_cb": lambda error: reported.append(error),
        "reconnect.backoff.ms": 1000,
    }
    if s["ca"]:
        config.update({"ssl.ca.location": s["ca"], "ssl.endpoint.identification.algorithm": "https"})
    if s["mechanism"]:
        config.update({"sasl.mechanism": s["mechanism"], "sasl.username": s["user"], "sasl.password": s["password"]})
    consumer = Consumer(config)
    # The topic by name only: librdkafka 2.16's Metadata v12 request for all topics carries 3
    # bytes past its last field, which the endpoint refuses (so no topic listing here).
    try:
        listing = consumer.list_topics(topic, timeout=10)
    except KafkaException as error:
        listing = None
        reported.append(error.args[0])
        # error_cb runs from poll().
        for _ in range(3):
            consumer.poll(0.5)
    authentication = [e for e in reported if e.code() == KafkaError._AUTHENTICATION]
    if authentication:
        return {"outcome": "authentication_failed", "error": authentication[0].str()}
    if listing is None:
        sys.exit(f"no metadata: {[e.str() for e in reported]}")
    topics = None
    named = listing.topics[topic]
    if named.error is not None:
        if named.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            return {"outcome": "topic_authorization_failed", "topics": topics, "error": named.error.str()}
        sys.exit(f"metadata error for {topic}: {named.error.str()}")
    partitions = sorted(named.partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    values = {str(p): [] for p in partitions}
    done = set()
    deadline = time.monotonic() + 30
    while len(done) < len(partitions):
        if time.monotonic() > deadline:
            sys.exit(f"timed out: done {sorted(done)}, values {values}, errors {[e.str() for e in reported]}")
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                done.add(message.partition())
                continue
            sys.exit(f"error: {message.error().str()}")
        values[str(message.partition())].append(message.value().decode())
    consumer.close()
    return {"outcome": "read", "topics": topics, "partitions": partitions, "values": values}


def main():
    client, bootstrap, topic = sys.argv[1:4]
    result = with_kafka_python(bootstrap, topic) if client == "kafka-python" else with_confluent(bootstrap, topic)
    print(json.dumps(result))


main()
