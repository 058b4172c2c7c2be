import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on the loopback interface, for cutting connections mid-stream: every accepted
/// connection is forwarded to `targetPort`; `cutAll()` shuts every one of them down at once
/// (both directions), as a broken network would. New connections are still accepted.
final class LoopbackProxy: Sendable {
    let port: UInt16
    let targetPort: UInt16
    private let listener: Int32
    private let open = Mutex<[Int32]>([])
    private let closed = Mutex(false)

    init(targetPort: UInt16) throws {
        self.targetPort = targetPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard listener >= 0, bound == 0, listen(listener, 16) == 0 else {
            throw MissingTestPrerequisite(description: "the loopback proxy could not listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// `url` with its port replaced by the proxy's.
    static func rewrite(_ url: String, port: UInt16) throws -> String {
        guard var components = URLComponents(string: url) else { throw MissingTestPrerequisite(description: "not a URL: the test database URL") }
        components.port = Int(port)
        return components.string!
    }

    private func acceptLoop() {
        while !closed.withLock({ $0 }) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = targetPort.bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            open.withLock { $0 += [client, server] }
            Thread { Self.pump(from: client, to: server) }.start()
            Thread { Self.pump(from: server, to: client) }.start()
        }
    }

    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var done = 0
            while done < count {
                let written = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + done, count - done, Int32(MSG_NOSIGNAL)) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                done += written
            }
        }
        shutdown(destination, Int32(SHUT_WR))
    }

    /// Cuts every connection open now.
    func cutAll() {
        let sockets = open.withLock { sockets in
            defer { sockets = [] }
            return sockets
        }
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    func stop() {
        closed.withLock { $0 = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        cutAll()
    }
}
