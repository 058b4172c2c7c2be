import Foundation
import KafkaProtocol
import Logging
import NIOCore
import SegmentLog

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String
    init(_ label: String = #function) throws {
        let name = "outflow-endpoint-" + label.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func record(_ value: String, timestamp: Int64) -> Record {
    Record(key: Array(("k-" + value).utf8), value: Array(value.utf8), timestamp: timestamp)
}

/// A blocking Kafka client over a plain socket, speaking through the KafkaProtocol codecs.
/// Reads time out after 30 s so that a server that never answers fails the test, not hangs it.
final class TestKafkaClient {
    private let descriptor: Int32
    private var received = ByteBuffer()
    private var nextCorrelationID: Int32 = 1

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket: \(errno)") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw TestFailure("connect to port \(port): errno \(errno)")
        }
    }

    deinit { close(descriptor) }

    func send(bytes buffer: ByteBuffer) throws {
        var remaining = buffer
        while remaining.readableBytes > 0 {
            let sent = remaining.withUnsafeReadableBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestFailure("send: errno \(errno)") }
            remaining.moveReaderIndex(forwardBy: sent)
        }
    }

    /// Sends `request` at `version`; returns its correlation id.
    @discardableResult
    func send(_ request: KafkaRequest, version: Int16) throws -> Int32 {
        let correlationID = nextCorrelationID
        nextCorrelationID += 1
        let header = RequestHeader(apiKey: request.apiKey!, apiVersion: version, correlationID: correlationID, clientID: "endpoint-tests")
        try send(bytes: request.encodeFrame(header: header))
        return correlationID
    }

    /// The next response frame (without its size), or nil when the server closed the connection.
    func readFrame() throws -> ByteBuffer? {
        while true {
            if let size = received.getInteger(at: received.readerIndex, as: Int32.self), received.readableBytes >= 4 + Int(size) {
                received.moveReaderIndex(forwardBy: 4)
                return received.readSlice(length: Int(size))
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            // Closed, gracefully or with a reset (the server closed with our request unread).
            if count == 0 || (count < 0 && errno == ECONNRESET) { return nil }
            guard count > 0 else { throw TestFailure("recv: errno \(errno) (a timeout means the server did not answer)") }
            received.writeBytes(chunk[..<count])
        }
    }

    func readResponse<Response: KafkaResponseMessage>(_: Response.Type, version: Int16, correlationID: Int32) throws -> Response {
        guard let frame = try readFrame() else { throw TestFailure("the server closed the connection instead of answering") }
        let (header, response) = try KafkaResponseFrame.decode(Response.self, frame: frame, version: version)
        guard header.correlationID == correlationID else {
            throw TestFailure("correlation id \(header.correlationID), expected \(correlationID)")
        }
        return response
    }

    func roundTrip<Response: KafkaResponseMessage>(_ request: KafkaRequest, version: Int16, as type: Response.Type) throws -> Response {
        let correlationID = try send(request, version: version)
        return try readResponse(type, version: version, correlationID: correlationID)
    }
}
