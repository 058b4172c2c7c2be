/// `serve:`: `outflow run` serves the log it writes over Kafka's wire protocol, in the same
/// process, as `outflow serve` does.
public struct ServeConfig: Sendable, Equatable {
    public var listen: ListenAddress
    /// The host name clients are told to connect to; nil: the address each one connected to.
    public var advertisedHost: String?
    /// Nil: plaintext connections.
    public var tls: ServeTLSConfig?
    /// Nil: no authentication, every client reads every topic.
    public var sasl: ServeSASLConfig?

    public init(listen: ListenAddress, advertisedHost: String? = nil, tls: ServeTLSConfig? = nil, sasl: ServeSASLConfig? = nil) {
        self.listen = listen
        self.advertisedHost = advertisedHost
        self.tls = tls
        self.sasl = sasl
    }

    public static let defaultListen = ListenAddress(host: "127.0.0.1", port: 9092)

    enum Fields {
        static let listen = FieldSpec(
            "listen", ListenAddress.valueSpec, .defaulted(defaultListen, shown: .string("127.0.0.1:9092")),
            doc: "Address the Kafka endpoint binds, host:port (0.0.0.0 exposes it to the network: set tls and sasl first).")
        static let advertisedHost = FieldSpec(
            "advertised_host", ValueSpec<String>.string, .optional, doc: "The host name clients are told to connect to. Default: the address each one connected to.")
        static let tls = FieldSpec("tls", ValueSpec<ServeTLSConfig>.object(ServeTLSConfig.spec, build: ServeTLSConfig.decode), .optional, doc: ServeTLSConfig.spec.doc)
        /// Decoded by `decode` itself: whether PLAIN is allowed depends on `tls`.
        static let sasl = FieldSpec("sasl", ValueSpec<ServeSASLConfig>.decodedByHand(ServeSASLConfig.spec.schema), .optional, doc: ServeSASLConfig.spec.doc)
    }

    static let spec = ObjectSpec(
        name: "serve", doc: "Serve the log this pipeline writes over Kafka's wire protocol, for any Kafka consumer, from the same process.",
        fields: [Fields.listen.schema, Fields.advertisedHost.schema, Fields.tls.schema, Fields.sasl.schema], shorthand: "listen")

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> ServeConfig? {
        let listen = reader.read(Fields.listen, &context), advertisedHost = reader.read(Fields.advertisedHost, &context)
        let tls = reader.read(Fields.tls, &context)
        var sasl: ServeSASLConfig?
        if let node = reader.node(Fields.sasl.name) {
            let saslReader = ObjectReader(node, spec: ServeSASLConfig.spec, context: &context)
            guard saslReader.isMapping else { return nil }
            sasl = ServeSASLConfig.decode(saslReader, tlsConfigured: reader.has(Fields.tls.name), &context)
            reader.show(Fields.sasl.name, saslReader.shown, isDefault: false)
            if sasl == nil { return nil }
        }
        guard let listen else { return nil }
        if reader.has(Fields.advertisedHost.name), advertisedHost == nil { return nil }
        if reader.has(Fields.tls.name), tls == nil { return nil }
        return ServeConfig(listen: listen, advertisedHost: advertisedHost, tls: tls, sasl: sasl)
    }
}

/// `runtime:`: how the running process shows itself to operators.
public struct RuntimeConfig: Sendable, Equatable {
    /// Where the metrics endpoint listens (`/metrics`, `/health`, `/ready`); nil: no endpoint.
    public var metricsListen: ListenAddress?

    public init(metricsListen: ListenAddress? = nil) { self.metricsListen = metricsListen }
}

/// `host:port` for a server to bind: an IPv4 address or a name, or `[v6]:port`. Port 0 picks a
/// free one.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension ListenAddress {
    static let valueSpec = ValueSpec<ListenAddress>.text(
        expected: "host:port", validate: { ListenAddress($0) == nil ? ("not host:port with a port from 0 to 65535", "e.g. 127.0.0.1:9464") : nil },
        parse: { ListenAddress($0) })
}

extension RuntimeConfig {
    enum Fields {
        static let listen = FieldSpec(
            "listen", ListenAddress.valueSpec, .required, doc: "Address the metrics endpoint binds, host:port (e.g. 127.0.0.1:9464; 0.0.0.0 exposes it to the network).")
        static let metricsSpec = ObjectSpec(
            name: "runtime.metrics", doc: "Prometheus metrics (/metrics), liveness (/health) and readiness (/ready) over HTTP.",
            fields: [listen.schema], shorthand: "listen")
        static let metrics = FieldSpec(
            "metrics", ValueSpec<ListenAddress>.object(metricsSpec) { reader, context in reader.read(listen, &context) }, .optional,
            doc: metricsSpec.doc)
    }

    static let spec = ObjectSpec(name: "runtime", doc: "How the running pipeline shows itself to operators.", fields: [Fields.metrics.schema])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> RuntimeConfig? {
        let metrics = reader.read(Fields.metrics, &context)
        if reader.has(Fields.metrics.name), metrics == nil { return nil }
        return RuntimeConfig(metricsListen: metrics)
    }
}
