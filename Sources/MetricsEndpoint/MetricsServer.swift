import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// What the endpoint serves: the metrics in Prometheus' text format, and whether the process
/// is ready (`/ready`: 200, or 503 with the reason). `/health` answers 200 while the process
/// serves at all.
public struct MetricsRoutes: Sendable {
    public var metrics: @Sendable () -> [UInt8]
    public var readiness: @Sendable () -> (ready: Bool, reason: String)

    public init(metrics: @escaping @Sendable () -> [UInt8], readiness: @escaping @Sendable () -> (ready: Bool, reason: String)) {
        self.metrics = metrics
        self.readiness = readiness
    }
}

/// The HTTP endpoint on-call scrapes and probes: `/metrics`, `/health`, `/ready`, over
/// SwiftNIO, as a service of the process's `ServiceGroup`. A graceful shutdown closes the
/// listener; it is put before the pipeline in the group, so it stops after it and still
/// answers while the pipeline drains.
public final class MetricsServer: Service {
    public let host: String
    public let port: Int
    let routes: MetricsRoutes
    let logger: Logger
    let onBound: @Sendable (_ host: String, _ port: Int) -> Void

    /// `onBound` learns the address and port it listens on (port 0 picks a free one).
    public init(host: String, port: Int, routes: MetricsRoutes, logger: Logger, onBound: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }) {
        self.host = host
        self.port = port
        self.routes = routes
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let routes = self.routes
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 64)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(routes: routes))
                }
            }
            .bind(host: host, port: port).get()
        if let address = channel.localAddress { onBound(address.ipAddress ?? host, address.port ?? port) }
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// One HTTP/1.1 connection: GET (or HEAD) of the three paths; anything else 404 or 405.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let routes: MetricsRoutes
    private var head: HTTPRequestHead?

    init(routes: MetricsRoutes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // no route takes a body
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let (status, contentType, body) = Self.answer(method: head.method, path: path, routes: routes)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if !keepAlive { context.close(promise: nil) }
    }

    /// The response for a request, apart from I/O.
    static func answer(method: HTTPMethod, path: String, routes: MetricsRoutes) -> (HTTPResponseStatus, String, [UInt8]) {
        let text = "text/plain; charset=utf-8"
        guard method == .GET || method == .HEAD else { return (.methodNotAllowed, text, Array("GET only\n".utf8)) }
        switch path {
        case "/metrics": return (.ok, "text/plain; version=0.0.4; charset=utf-8", routes.metrics())
        case "/health": return (.ok, text, Array("ok\n".utf8))
        case "/ready":
            let (ready, reason) = routes.readiness()
            return (ready ? .ok : .serviceUnavailable, text, Array("\(reason)\n".utf8))
        default: return (.notFound, text, Array("not found: /metrics, /health, /ready\n".utf8))
        }
    }
}
