import CoreMetrics
import KafkaProtocol
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SegmentLog
import ServiceLifecycle
import Synchronization

/// How `outflow serve` listens and what it allows.
public struct KafkaEndpointConfiguration: Sendable {
    /// The log directory served.
    public var logDirectory: String
    /// 127.0.0.1 unless told otherwise.
    public var host: String
    /// 0 picks a free port (see `KafkaServer.port`).
    public var port: Int
    /// The host named in Metadata; nil names the address each client connected to.
    public var advertisedHost: String?
    /// A request frame larger than this closes its connection.
    public var maximumFrameSize: Int
    /// Connections beyond this are closed as they are accepted.
    public var maximumConnections: Int
    public var eventLoopThreads: Int
    /// Threads that read the log (blocking file I/O).
    public var readerThreads: Int
    /// The most record bytes one Fetch response carries, whatever the client asks (Kafka's
    /// broker `fetch.max.bytes`); a connection answers one request at a time, so this is also
    /// what one connection holds of fetched records.
    public var maximumFetchResponseBytes: Int
    /// The most record bytes all Fetch responses hold together, from their read until they are
    /// written to their sockets. A fetch past it is trimmed to what is left, at least one batch
    /// (Kafka's rule, so consumers progress).
    public var maximumFetchBytesInFlight: Int
    /// Consumer-group membership: session timeout bounds, the initial rebalance delay, the
    /// largest group.
    var groups = GroupCoordinator.Settings()
    /// Where the endpoint's metrics go; nil: the process's bootstrapped backend.
    public var metricsFactory: (any MetricsFactory)?
    /// TLS and SASL users; none by default.
    public var security = KafkaEndpointSecurity.none

    public init(
        logDirectory: String, host: String = "127.0.0.1", port: Int = 9092, advertisedHost: String? = nil,
        maximumFrameSize: Int = 8 << 20, maximumConnections: Int = 256, maximumFetchResponseBytes: Int = 55 << 20,
        maximumFetchBytesInFlight: Int = 256 << 20, eventLoopThreads: Int = 1, readerThreads: Int = 2
    ) {
        self.logDirectory = logDirectory
        self.host = host
        self.port = port
        self.advertisedHost = advertisedHost
        self.maximumFrameSize = maximumFrameSize
        self.maximumConnections = maximumConnections
        self.maximumFetchResponseBytes = maximumFetchResponseBytes
        self.maximumFetchBytesInFlight = maximumFetchBytesInFlight
        self.eventLoopThreads = eventLoopThreads
        self.readerThreads = readerThreads
    }
}

/// A failure to start or run the endpoint.
public struct KafkaEndpointError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The log directory cannot be opened.
        public static let log = Code("log")
        /// The listening socket cannot be bound.
        public static let bind = Code("bind")
        /// The TLS certificate or private key cannot be used.
        public static let tls = Code("tls")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A Kafka wire-protocol endpoint over a log directory: the one broker of a cluster whose
/// partitions are the log's. Consumers read with their own Kafka clients; nobody writes.
public final class KafkaServer: Sendable {
    public let configuration: KafkaEndpointConfiguration
    /// The address it listens on (with the port picked when the configuration said 0).
    public let localAddress: SocketAddress
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let threadPool: NIOThreadPool
    private let notifier: LogChangeNotifier
    private let membership: GroupMembership
    private let fetchMemory: FetchMemory
    private let logger: Logger

    public var port: Int { localAddress.port ?? configuration.port }

    /// Fetches waiting for the log to change (long polls), for tests and status.
    var waitingFetches: Int { notifier.waitingCount }
    /// Record bytes of Fetch responses read and not yet written, for tests and status.
    var fetchBytesInFlight: Int { fetchMemory.inUse }

    private init(
        configuration: KafkaEndpointConfiguration, channel: any Channel, group: MultiThreadedEventLoopGroup, threadPool: NIOThreadPool,
        notifier: LogChangeNotifier, membership: GroupMembership, fetchMemory: FetchMemory, logger: Logger
    ) {
        self.configuration = configuration
        self.localAddress = channel.localAddress!
        self.channel = channel
        self.group = group
        self.threadPool = threadPool
        self.notifier = notifier
        self.membership = membership
        self.fetchMemory = fetchMemory
        self.logger = logger
    }

    /// Opens the log, starts watching it and binds the listener.
    public static func start(_ configuration: KafkaEndpointConfiguration, logger: Logger) async throws(KafkaEndpointError) -> KafkaServer {
        let log: EndpointLog
        do { log = try EndpointLog(directory: configuration.logDirectory) } catch {
            throw KafkaEndpointError(.log, "cannot open the log at \(configuration.logDirectory): \(error)")
        }
        let tlsContext: NIOSSLContext?
        if let identity = configuration.security.tls { tlsContext = try Self.makeTLSContext(identity) } else { tlsContext = nil }
        // Derived once, here: each user's SCRAM credentials with a random salt.
        let users = configuration.security.saslEnabled ? SASLUserDirectory(configuration.security) : nil
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        let threadPool = NIOThreadPool(numberOfThreads: max(1, configuration.readerThreads))
        threadPool.start()
        let notifier = LogChangeNotifier(directory: log.reader.directory, logger: logger)
        let membership = GroupMembership(settings: configuration.groups, timerLoop: group.next(), logger: logger)
        let metrics = EndpointMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        let processor = RequestProcessor(log: log, membership: membership, logger: logger, metrics: metrics)
        let connections = ConnectionCount(maximum: configuration.maximumConnections)
        let fetchMemory = FetchMemory(
            budget: FetchBudget(perResponse: configuration.maximumFetchResponseBytes, inFlight: configuration.maximumFetchBytesInFlight))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard let open = connections.open() else {
                    metrics.connectionRefused()
                    logger.info("refused a Kafka client connection: too many open", metadata: [
                        "kafka.client_address": "\(channel.remoteAddress.map { "\($0)" } ?? "?")",
                        "kafka.maximum_connections": "\(configuration.maximumConnections)",
                    ])
                    return channel.close()
                }
                metrics.connectionOpened(nowOpen: open)
                channel.closeFuture.whenComplete { _ in metrics.connectionClosed(nowOpen: connections.close()) }
                return channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        // Before the frame decoder: it sees only decrypted bytes. A failed
                        // handshake reaches the connection handler's errorCaught, which logs
                        // and closes.
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(KafkaFrameDecoder(maximumFrameSize: configuration.maximumFrameSize)),
                        KafkaConnectionHandler(
                            processor: processor, threadPool: threadPool, notifier: notifier, fetchMemory: fetchMemory,
                            advertisedHost: configuration.advertisedHost, readPauseBytes: configuration.maximumFrameSize, users: users, logger: logger))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            return KafkaServer(
                configuration: configuration, channel: channel, group: group, threadPool: threadPool, notifier: notifier, membership: membership,
                fetchMemory: fetchMemory, logger: logger)
        } catch {
            membership.stop()
            notifier.stop()
            try? await threadPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw KafkaEndpointError(.bind, "cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
    }

    private static func makeTLSContext(_ identity: TLSIdentity) throws(KafkaEndpointError) -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(identity.certificateChainPEM)
            guard !chain.isEmpty else { throw KafkaEndpointError(.tls, "the TLS certificate file holds no PEM certificate") }
            let key = try NIOSSLPrivateKey(bytes: identity.privateKeyPEM, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        } catch let error as KafkaEndpointError {
            throw error
        } catch {
            // The error names what BoringSSL refused, never the key's bytes.
            throw KafkaEndpointError(.tls, "cannot use the TLS certificate and private key: \(error)")
        }
    }

    /// Stops listening, closes every connection (waiting fetches answer first with what they
    /// have) and stops the threads.
    public func shutdown() async {
        try? await channel.close()
        membership.stop()
        notifier.stop()
        try? await group.shutdownGracefully()
        try? await threadPool.shutdownGracefully()
    }
}

/// Open connections, bounded.
private final class ConnectionCount: Sendable {
    let maximum: Int
    private let count = Atomic<Int>(0)

    init(maximum: Int) { self.maximum = maximum }

    /// Counts a new connection and returns how many are open; nil (and not counted) when the
    /// maximum is reached.
    func open() -> Int? {
        var current = count.load(ordering: .relaxed)
        while current < maximum {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return current + 1 }
            current = original
        }
        return nil
    }

    /// Returns how many stay open.
    func close() -> Int { count.subtract(1, ordering: .relaxed).newValue }
}

/// The endpoint as a service of a `ServiceGroup`: listens until graceful shutdown.
public struct KafkaEndpointService: Service {
    public let configuration: KafkaEndpointConfiguration
    private let logger: Logger
    private let onListening: @Sendable (KafkaServer) -> Void

    /// `onListening` is called once the listener is bound (to say where).
    public init(configuration: KafkaEndpointConfiguration, logger: Logger, onListening: @escaping @Sendable (KafkaServer) -> Void = { _ in }) {
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let server = try await KafkaServer.start(configuration, logger: logger)
        onListening(server)
        // Returns on graceful shutdown, throws on cancellation: either way, stop.
        try? await gracefulShutdown()
        await server.shutdown()
    }
}
