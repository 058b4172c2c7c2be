"""A stock Kafka consumer in a consumer group against a Kafka endpoint (`outflow serve`):
kafka-python or confluent-kafka (librdkafka), subscribe() with GROUP, so the group coordinator
assigns it partitions of TOPIC. It reads read_committed from the group's committed offsets
(the earliest where there are none) and commits after every batch it gets, before it polls
again.

It reports on standard output, one JSON object per line, flushed at once:
    {"assigned": [partitions]}                     its assignment, whenever it changes
    {"records": [[partition, offset, value], ...], "committed": true|false}
                                                   a batch, and whether its commit succeeded
    {"closed": true}                               after it left the group
A line "close" on standard input makes it close the consumer (a LeaveGroup) and exit.

    python group_consumer.py kafka-python|confluent-kafka BOOTSTRAP TOPIC GROUP CLIENT_ID
"""
import json
import select
import sys


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def close_requested():
    ready, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(ready) and sys.stdin.readline().strip() == "close"


class KafkaPythonMember:
    def __init__(self, bootstrap, topic, group, client_id):
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        self.failure = KafkaError
        self.consumer = KafkaConsumer(
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
        self.consumer.subscribe([topic])

    def poll(self):
        batches = self.consumer.poll(timeout_ms=200)
        return [[tp.partition, r.offset, r.value.decode()] for tp, rs in batches.items() for r in rs]

    def assignment(self):
        return sorted(tp.partition for tp in self.consumer.assignment())

    def commit(self):
        self.consumer.commit()

    def close(self):
        self.consumer.close()


class ConfluentMember:
    def __init__(self, bootstrap, topic, group, client_id):
        from confluent_kafka import Consumer, KafkaException

        self.failure = KafkaException
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": client_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "max.poll.interval.ms": 30000,
            "fetch.wait.max.ms": 100,
        })
        self.consumer.subscribe([topic])

    def poll(self):
        records = []
        for message in self.consumer.consume(num_messages=500, timeout=0.2):
            if message.error() is None:
                records.append([message.partition(), message.offset(), message.value().decode()])
            else:
                sys.stderr.write(f"consumer error: {message.error()}\n")
        return records

    def assignment(self):
        return sorted(tp.partition for tp in self.consumer.assignment())

    def commit(self):
        self.consumer.commit(asynchronous=False)

    def close(self):
        self.consumer.close()


def main():
    client, bootstrap, topic, group, client_id = sys.argv[1:6]
    member = {"kafka-python": KafkaPythonMember, "confluent-kafka": ConfluentMember}[client](bootstrap, topic, group, client_id)
    assigned = None
    while True:
        if close_requested():
            member.close()
            say({"closed": True})
            return
        records = member.poll()
        now = member.assignment()
        if now != assigned:
            assigned = now
            say({"assigned": now})
        if records:
            try:
                member.commit()
                committed = True
            except member.failure as error:
                # A rebalance took the partitions away: another member reads them again.
                sys.stderr.write(f"commit failed: {error!r}\n")
                committed = False
            say({"records": records, "committed": committed})


main()
