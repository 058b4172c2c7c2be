// outflow-mock-kafka: librdkafka's mock cluster in a process of its own, so that tests can kill
// and restart `outflow run` against the same cluster.
//
//   outflow-mock-kafka [--brokers N] [--topic NAME:PARTITIONS]...
//
// Prints the bootstrap address on the first line of standard output and runs until standard
// input closes (or a signal ends it). Commands on standard input, one per line, each answered
// by a line "ok" or "error: …":
//   topic NAME PARTITIONS            create a topic
//   topic-error NAME CODE            metadata answers CODE for the topic (3: unknown; 0: none)
//   errors API_KEY CODE[,CODE…]      the next requests of that API fail with these Kafka error
//                                    codes (0 Produce, 24 AddPartitionsToTxn, 26 EndTxn, …)
//   coordinator transaction|group KEY BROKER_ID
//   broker ID up|down
import Foundation
import KafkaClient

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("outflow-mock-kafka: \(message)\n".utf8))
    exit(64)
}

var brokers = 1
var topics: [(String, Int)] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--brokers":
        guard let value = arguments.popFirst().flatMap({ Int($0) }), value > 0 else { fail("--brokers takes a positive number") }
        brokers = value
    case "--topic":
        guard let value = arguments.popFirst(), let colon = value.lastIndex(of: ":"), let count = Int(value[value.index(after: colon)...]), count > 0 else {
            fail("--topic takes NAME:PARTITIONS")
        }
        topics.append((String(value[..<colon]), count))
    default:
        fail("unknown argument \(argument) (usage: outflow-mock-kafka [--brokers N] [--topic NAME:PARTITIONS]...)")
    }
}

let cluster: MockKafkaCluster
do {
    cluster = try MockKafkaCluster(brokers: brokers)
    for (name, partitions) in topics { try cluster.createTopic(name, partitions: partitions) }
} catch {
    fail("\(error)")
}
/// One line on standard output at once (it is a pipe: print would block-buffer it).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

say(cluster.bootstrapServers)

func execute(_ words: [Substring], on cluster: MockKafkaCluster) throws {
    switch (words.first, words.count) {
    case ("topic", 3):
        guard let partitions = Int(words[2]), partitions > 0 else { throw KafkaClientError(.configuration, "PARTITIONS must be a positive number") }
        try cluster.createTopic(String(words[1]), partitions: partitions)
    case ("topic-error", 3):
        guard let code = Int32(words[2]) else { throw KafkaClientError(.configuration, "CODE must be a number") }
        cluster.setTopicError(String(words[1]), error: code)
    case ("errors", 3):
        guard let apiKey = Int16(words[1]) else { throw KafkaClientError(.configuration, "API_KEY must be a number") }
        let codes = words[2].split(separator: ",").compactMap { Int32($0) }
        guard !codes.isEmpty else { throw KafkaClientError(.configuration, "CODE must be numbers separated by commas") }
        cluster.pushRequestErrors(apiKey: apiKey, errors: codes)
    case ("coordinator", 4):
        guard let broker = Int32(words[3]) else { throw KafkaClientError(.configuration, "BROKER_ID must be a number") }
        try cluster.setCoordinator(keyType: String(words[1]), key: String(words[2]), brokerID: broker)
    case ("broker", 3):
        guard let id = Int32(words[1]), words[2] == "up" || words[2] == "down" else { throw KafkaClientError(.configuration, "usage: broker ID up|down") }
        try cluster.setBroker(id, up: words[2] == "up")
    default:
        throw KafkaClientError(.configuration, "unknown command (topic, topic-error, errors, coordinator, broker)")
    }
}

while let line = readLine() {
    let words = line.split(separator: " ")
    guard !words.isEmpty else { continue }
    do {
        try execute(words, on: cluster)
        say("ok")
    } catch {
        say("error: \(error)")
    }
}
