// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "outflow",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "outflow", targets: ["OutflowCLI"]),
        .executable(name: "outflow-bench", targets: ["OutflowBench"]),
        .executable(name: "outflow-mock-kafka", targets: ["OutflowMockKafka"]),
        .library(name: "PGOutput", targets: ["PGOutput"]),
        .library(name: "PostgresSource", targets: ["PostgresSource"]),
        .library(name: "SegmentLog", targets: ["SegmentLog"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        .library(name: "KafkaEndpoint", targets: ["KafkaEndpoint"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // TLS on the Kafka endpoint: NIOSSL's server handler. (SCRAM's hashes come from Debian's
        // libcrypto: swift-crypto would build a second copy of BoringSSL on every cold build.)
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C libraries from Debian (libpq-dev, libzstd-dev, librdkafka-dev), found through pkg-config.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        // OpenSSL's libcrypto (libssl-dev): SCRAM's SHA-2, HMAC and PBKDF2 for the Kafka endpoint's SASL.
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // librdkafka, wrapped thinly: the transactional producer, a partition reader, the mock cluster.
        .target(name: "KafkaClient", dependencies: ["CRdKafka", "BinaryIO", .product(name: "Logging", package: "swift-log")]),
        // The mock cluster in a process of its own, for the Kafka sink's tests.
        .executableTarget(name: "OutflowMockKafka", dependencies: ["KafkaClient"]),

        // One copy of each low-level helper the modules below share: the bounds-checked byte
        // reader and writer, the POSIX file layer, the LSN text form, the blocking sleep.
        .target(name: "BinaryIO", dependencies: ["FaultInjection"]),
        // Pure decoding/encoding of the replication protocol: no I/O, no C.
        .target(name: "PGOutput", dependencies: ["BinaryIO"]),
        // Pure codecs of the Kafka wire protocol for the consumer-side endpoint: no I/O.
        .target(name: "KafkaProtocol", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // The consumer-side Kafka server over the log (`outflow serve`): Metadata, ListOffsets,
        // Fetch served as the stored bytes; never Produce.
        .target(
            name: "KafkaEndpoint",
            dependencies: [
                "KafkaProtocol", "SegmentLog", "FaultInjection", "CLibCrypto",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Named crash points for the crash tests (OUTFLOW_CRASH_AT); shared by the modules below.
        .target(name: "FaultInjection"),
        // libpq connections, slots, publications, the CopyBoth loop, value decoding.
        .target(
            name: "PostgresSource",
            dependencies: ["CLibPQ", "BinaryIO", "PGOutput", "FaultInjection", .product(name: "Logging", package: "swift-log")]
        ),
        // The Kafka-format transactional log engine.
        .target(
            name: "SegmentLog",
            dependencies: ["CZstd", "BinaryIO", "FaultInjection", .product(name: "Logging", package: "swift-log")]
        ),
        // Pipeline files, stages, the graph runner, delivery guarantees.
        .target(
            name: "Pipeline",
            dependencies: [
                "BinaryIO", "PGOutput", "PostgresSource", "SegmentLog", "FaultInjection", "KafkaClient", .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The HTTP endpoint on-call scrapes and probes: /metrics (Prometheus), /health, /ready.
        .target(
            name: "MetricsEndpoint",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "OutflowCLI",
            dependencies: [
                "Pipeline", "PostgresSource", "SegmentLog", "PGOutput", "FaultInjection", "MetricsEndpoint", "KafkaEndpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // `make bench`: the log micro-benchmarks, the live-latency reader and the capture of a
        // replication stream for the decode micro-benchmark (scripts/bench).
        .executableTarget(
            name: "OutflowBench", dependencies: ["SegmentLog", "PostgresSource", "PGOutput", "Pipeline", .product(name: "Logging", package: "swift-log")]),
        // The Kafka request decoder under libFuzzer (scripts/fuzz-kafka builds it with
        // -D OUTFLOW_FUZZING); an ordinary build replays inputs given as files.
        .executableTarget(
            name: "KafkaRequestFuzz", dependencies: ["KafkaProtocol", .product(name: "NIOCore", package: "swift-nio")], path: "Fuzz/KafkaRequestFuzz"),

        .testTarget(name: "BinaryIOTests", dependencies: ["BinaryIO"]),
        .testTarget(name: "PGOutputTests", dependencies: ["PGOutput"]),
        .testTarget(name: "PostgresSourceTests", dependencies: ["PostgresSource", "PGOutput"]),
        .testTarget(name: "SegmentLogTests", dependencies: ["SegmentLog", "BinaryIO", "CZstd", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "KafkaClientTests", dependencies: ["KafkaClient", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "KafkaProtocolTests", dependencies: ["KafkaProtocol", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "PostgresSource", "SegmentLog", "PGOutput", .product(name: "Yams", package: "Yams"),
                .product(name: "MetricsTestKit", package: "swift-metrics"), .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "MetricsEndpointTests",
            dependencies: ["MetricsEndpoint", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "KafkaEndpointTests",
            dependencies: [
                "KafkaEndpoint", "KafkaProtocol", "SegmentLog",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        // Depends on the executable so `swift test` builds the `outflow` binary the tests run.
        .testTarget(name: "OutflowCLITests", dependencies: ["OutflowCLI", "OutflowMockKafka", "SegmentLog", "PostgresSource", "FaultInjection"]),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    // Require `any` for existential types.
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    // An import is visible only in the file that declares it.
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
