import Foundation
import Logging
@testable import MetricsEndpoint
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The endpoint answers the three paths over real HTTP on a loopback port of its own.
@Suite struct MetricsServerTests {
    @Test func routesAnswerWithTheirStatusAndBody() {
        let ready = Mutex(false)
        let routes = MetricsRoutes(metrics: { Array("outflow_x_total 3\n".utf8) }, readiness: { ready.withLock { $0 } ? (true, "streaming") : (false, "starting") })
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/metrics", routes: routes).0 == .ok)
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/metrics", routes: routes).2 == Array("outflow_x_total 3\n".utf8))
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/health", routes: routes).0 == .ok)
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/ready", routes: routes).0 == .serviceUnavailable)
        ready.withLock { $0 = true }
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/ready", routes: routes).0 == .ok)
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/nope", routes: routes).0 == .notFound)
        #expect(MetricsHTTPHandler.answer(method: .POST, path: "/metrics", routes: routes).0 == .methodNotAllowed)
    }

    @Test func aRunningServerAnswersOverHTTP() async throws {
        let bound = AsyncStream.makeStream(of: Int.self)
        let server = MetricsServer(
            host: "127.0.0.1", port: 0,
            routes: MetricsRoutes(metrics: { Array("outflow_x_total 7\n".utf8) }, readiness: { (false, "stalled: no progress") }),
            logger: Logger(label: "test"), onBound: { _, port in bound.continuation.yield(port) })
        let task = Task { try await server.run() }
        defer { task.cancel() }
        var ports = bound.stream.makeAsyncIterator()
        let port = try #require(await ports.next())
        let metrics = try get(port: port, path: "/metrics")
        #expect(metrics.hasPrefix("HTTP/1.1 200"))
        #expect(metrics.hasSuffix("outflow_x_total 7\n"))
        let ready = try get(port: port, path: "/ready")
        #expect(ready.hasPrefix("HTTP/1.1 503"))
        #expect(ready.hasSuffix("stalled: no progress\n"))
    }

    struct SocketError: Error { var what: String }

    /// One GET over a plain socket, the connection closed by the request: the whole response.
    func get(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(what: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw SocketError(what: "connect") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { throw SocketError(what: "send") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }
}
