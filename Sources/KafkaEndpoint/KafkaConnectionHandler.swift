import KafkaProtocol
import Logging
import NIOCore
import NIOPosix
import SegmentLog

/// One client connection: takes the frames `KafkaFrameDecoder` splits off, decodes each into a
/// request and answers it.
///
/// Requests are answered one at a time, in the order they came (Kafka's rule: a client matches
/// responses to requests by order as well as correlation id); those that arrive meanwhile
/// queue. Reading the log runs on the thread pool, never on the event loop. A frame that does
/// not decode closes this connection with one log line.
///
/// With users configured, a connection first authenticates (`SaslAuthentication`): until it
/// has, ApiVersions, SaslHandshake and SaslAuthenticate are answered and anything else closes
/// it, as Kafka's brokers do; afterwards it reads the topics of its user's allow-list.
final class KafkaConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Requests a client may send ahead of the answers before the connection is closed.
    static let maximumQueuedRequests = 64
    /// While this many requests wait (or their bytes reach a frame's limit), the socket is not
    /// read: the client waits in TCP's flow control, and what one connection holds stays
    /// bounded by about two frames whatever it sends.
    static let readPauseRequests = 16

    private let processor: RequestProcessor
    private let threadPool: NIOThreadPool
    private let notifier: LogChangeNotifier
    private let fetchMemory: FetchMemory
    private let advertisedHost: String?
    private let readPauseBytes: Int
    private var logger: Logger
    private var queue: [ByteBuffer] = []
    private var queuedBytes = 0
    private var answering = false
    /// A read the channel asked for while the queue was full: passed on once it drains.
    private var heldRead = false
    private var context: ChannelHandlerContext?
    /// Nil when the endpoint has no users: every topic is readable at once.
    private var authentication: SaslAuthentication?

    init(
        processor: RequestProcessor, threadPool: NIOThreadPool, notifier: LogChangeNotifier, fetchMemory: FetchMemory, advertisedHost: String?,
        readPauseBytes: Int, users: SASLUserDirectory? = nil, logger: Logger
    ) {
        self.authentication = users.map { SaslAuthentication(directory: $0) }
        self.processor = processor
        self.threadPool = threadPool
        self.notifier = notifier
        self.fetchMemory = fetchMemory
        self.advertisedHost = advertisedHost
        self.readPauseBytes = readPauseBytes
        self.logger = logger
    }

    private var queueIsFull: Bool { queue.count >= Self.readPauseRequests || queuedBytes >= readPauseBytes }

    func read(context: ChannelHandlerContext) {
        if queueIsFull { heldRead = true } else { context.read() }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        logger[metadataKey: "kafka.client_address"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        queue = []
        queuedBytes = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        queue.append(frame)
        queuedBytes += frame.readableBytes
        guard queue.count <= Self.maximumQueuedRequests else {
            close("more than \(Self.maximumQueuedRequests) requests sent ahead of their answers")
            return
        }
        answerNext()
    }

    /// A frame the decoder rejects (too large, negative size, cut short) or a failed socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close("\(error)")
    }

    private func close(_ reason: String) {
        guard let context else { return }
        logger.info("closing Kafka client connection", metadata: ["kafka.reason": "\(reason)"])
        queue = []
        queuedBytes = 0
        self.context = nil
        context.close(promise: nil)
    }

    private func answerNext() {
        guard !answering, let context, !queue.isEmpty else { return }
        let frame = queue.removeFirst()
        queuedBytes -= frame.readableBytes
        if heldRead && !queueIsFull {
            heldRead = false
            context.read()
        }
        let header: RequestHeader
        let request: KafkaRequest
        do { (header, request) = try KafkaRequest.decode(frame: frame) } catch {
            close("malformed request: \(error)")
            return
        }
        processor.metrics.request(apiKey: header.apiKeyRawValue)
        logger.debug("Kafka request", metadata: [
            "kafka.api": "\(header.apiKey.map { "\($0)" } ?? "\(header.apiKeyRawValue)")", "kafka.version": "\(header.apiVersion)",
            "kafka.client_id": "\(header.clientID ?? "")",
        ])
        answering = true
        reply(to: request, header: header, context: context).assumeIsolated().whenComplete { result in
            self.answering = false
            guard let context = self.context else {
                if case .success(.fetchResponse(_, let reservation)) = result { reservation.release() }
                return
            }
            switch result {
            case .success(.frame(let response)):
                context.writeAndFlush(self.wrapOutboundOut(response), promise: nil)
                self.answerNext()
            case .success(.fetchResponse(let response, let reservation)):
                // Held until the bytes are in the socket's hands (or the write failed).
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenComplete { _ in reservation.release() }
                context.writeAndFlush(self.wrapOutboundOut(response), promise: written)
                self.answerNext()
            case .success(.lastFrame(let response, let reason)):
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.assumeIsolated().whenComplete { _ in self.close(reason) }
                context.writeAndFlush(self.wrapOutboundOut(response), promise: written)
            case .success(.close(let reason)):
                self.close(reason)
            case .failure(let error):
                // The log could not be read: the client retries on a new connection.
                self.logger.warning("cannot answer a Kafka request", metadata: [
                    "kafka.api": "\(header.apiKey.map { "\($0)" } ?? "\(header.apiKeyRawValue)")", "kafka.error": "\(error)",
                ])
                self.close("the log could not be read")
            }
        }
    }

    /// Answers what authentication allows: before it succeeds only ApiVersions and the SASL
    /// requests; after it, everything within the user's topics.
    private func reply(to request: KafkaRequest, header: RequestHeader, context: ChannelHandlerContext) -> EventLoopFuture<Reply> {
        let eventLoop = context.eventLoop
        let sasl = authentication != nil
        switch request {
        case .apiVersions:
            return eventLoop.makeSucceededFuture(.frame(RequestProcessor.apiVersions(header: header, supported: true, sasl: sasl)))
        case .unsupported(apiKey: ApiKey.apiVersions.rawValue, _):
            return eventLoop.makeSucceededFuture(.frame(RequestProcessor.apiVersions(header: header, supported: false, sasl: sasl)))
        case .saslHandshake(let handshake) where authentication != nil:
            return eventLoop.makeSucceededFuture(Self.reply(authentication!.handshake(handshake, header: header)))
        case .saslAuthenticate(let authenticate) where authentication != nil:
            let outcome = authentication!.authenticate(authenticate, header: header)
            if let user = authentication!.user, logger[metadataKey: "kafka.user"] == nil {
                logger[metadataKey: "kafka.user"] = "\(user)"
                logger.info("Kafka client authenticated")
            }
            return eventLoop.makeSucceededFuture(Self.reply(outcome))
        default:
            break
        }
        let access: TopicAccess
        if let authentication {
            guard let granted = authentication.access else {
                return eventLoop.makeSucceededFuture(
                    .close(reason: "\(request.apiKey.map { "\($0)" } ?? "api key \(header.apiKeyRawValue)") before SASL authentication"))
            }
            access = granted
        } else {
            access = .everything
        }
        return authorizedReply(to: request, header: header, access: access, context: context)
    }

    private static func reply(_ outcome: SaslAuthentication.Outcome) -> Reply {
        switch outcome {
        case .respond(let frame): .frame(frame)
        case .respondAndClose(let frame, let reason): .lastFrame(frame, reason: reason)
        case .close(let reason): .close(reason: reason)
        }
    }

    private func authorizedReply(to request: KafkaRequest, header: RequestHeader, access: TopicAccess, context: ChannelHandlerContext) -> EventLoopFuture<Reply> {
        let eventLoop = context.eventLoop
        let processor = self.processor
        switch request {
        case .produce(let produce):
            return eventLoop.makeSucceededFuture(RequestProcessor.produce(produce, header: header, logger: logger))
        case .metadata(let metadata):
            let broker = brokerAddress(context)
            return threadPool.runIfActive(eventLoop: eventLoop) { .frame(try processor.metadata(metadata, header: header, broker: broker, access: access)) }
        case .listOffsets(let listOffsets):
            return threadPool.runIfActive(eventLoop: eventLoop) { .frame(try processor.listOffsets(listOffsets, header: header, access: access)) }
        case .offsetForLeaderEpoch(let offsetRequest):
            return threadPool.runIfActive(eventLoop: eventLoop) { .frame(try processor.offsetForLeaderEpoch(offsetRequest, header: header, access: access)) }
        case .findCoordinator(let find):
            return eventLoop.makeSucceededFuture(.frame(RequestProcessor.findCoordinator(find, header: header, broker: brokerAddress(context))))
        case .offsetCommit(let commit):
            let membershipError = processor.membership.offsetCommitError(commit)
            return threadPool.runIfActive(eventLoop: eventLoop) {
                .frame(try processor.offsetCommit(commit, header: header, membershipError: membershipError, access: access))
            }
        case .offsetFetch(let offsetFetch):
            return threadPool.runIfActive(eventLoop: eventLoop) { .frame(try processor.offsetFetch(offsetFetch, header: header, access: access)) }
        case .listGroups(let list):
            return threadPool.runIfActive(eventLoop: eventLoop) { .frame(try processor.listGroups(list, header: header)) }
        case .describeGroups(let describe):
            return threadPool.runIfActive(eventLoop: eventLoop) { .frame(try processor.describeGroups(describe, header: header)) }
        case .joinGroup(let join):
            return processor.membership.join(join, header: header, clientHost: context.remoteAddress?.ipAddress ?? "", on: eventLoop)
        case .syncGroup(let sync):
            return processor.membership.sync(sync, header: header, on: eventLoop)
        case .heartbeat(let heartbeat):
            return eventLoop.makeSucceededFuture(processor.membership.heartbeat(heartbeat, header: header))
        case .leaveGroup(let leave):
            return eventLoop.makeSucceededFuture(processor.membership.leave(leave, header: header))
        case .fetch(let fetch):
            let wait = FetchWait(minBytes: fetch.minBytes, maxWaitMs: fetch.maxWaitMs, receivedAt: .now())
            return Self.longPoll(
                fetch, header: header, wait: wait, access: access, eventLoop: eventLoop, processor: processor, notifier: notifier, threadPool: threadPool,
                memory: fetchMemory)
        case .unsupported(let apiKey, let version):
            // A client sends only what ApiVersions listed: anything else cannot be answered in
            // a form it expects.
            return eventLoop.makeSucceededFuture(.close(reason: "unsupported request: api key \(apiKey) version \(version)"))
        default:
            return eventLoop.makeSucceededFuture(.close(reason: "\(request.apiKey.map { "\($0)" } ?? "?") is not served by this endpoint"))
        }
    }

    /// Reads the fetch within what the fetch memory grants; when it has less than min_bytes,
    /// gives the memory back, waits for the log to change (or the deadline) and reads again.
    private static func longPoll(
        _ fetch: FetchRequest, header: RequestHeader, wait: FetchWait, access: TopicAccess, eventLoop: any EventLoop, processor: RequestProcessor,
        notifier: LogChangeNotifier, threadPool: NIOThreadPool, memory: FetchMemory
    ) -> EventLoopFuture<Reply> {
        // Noted before the read: a change after it wakes the wait below even if it comes first.
        let changes = notifier.changeCount
        // Encoded on the pool too: the frame copies every record byte once.
        return threadPool.runIfActive(eventLoop: eventLoop) { () throws -> (RequestProcessor.FetchRead, ByteBuffer, FetchReservation) in
            var reservation = memory.reserve(requested: fetch.maxBytes)
            let read: RequestProcessor.FetchRead
            do { read = try processor.readFetch(fetch, byteLimit: reservation.granted, access: access) } catch {
                reservation.release()
                throw error
            }
            let frame = KafkaResponseFrame.encode(read.response, version: header.apiVersion, correlationID: header.correlationID)
            // What the response holds, which may pass the grant by the one batch that always goes.
            reservation.resize(to: frame.readableBytes)
            return (read, frame, reservation)
        }.flatMap { read, frame, reservation in
            switch wait.next(bytesRead: read.recordBytes, anyPartitionFailed: read.anyPartitionFailed, now: .now()) {
            case .respond:
                processor.metrics.fetched(bytes: read.recordBytes, records: read.records)
                return eventLoop.makeSucceededFuture(.fetchResponse(frame, reservation))
            case .waitForChange where notifier.isStopped:
                // Shutting down: nothing will wake the wait; answer with what there is.
                processor.metrics.fetched(bytes: read.recordBytes, records: read.records)
                return eventLoop.makeSucceededFuture(.fetchResponse(frame, reservation))
            case .waitForChange(let deadline):
                reservation.release()
                return notifier.waitForChange(after: changes, until: deadline, on: eventLoop).flatMap {
                    longPoll(
                        fetch, header: header, wait: wait, access: access, eventLoop: eventLoop, processor: processor, notifier: notifier, threadPool: threadPool,
                        memory: memory)
                }
            }
        }
    }

    /// This endpoint as the client reached it (or as configured): the address clients use
    /// for every partition, since this is the leader of all.
    private func brokerAddress(_ context: ChannelHandlerContext) -> BrokerAddress {
        let local = context.localAddress
        return BrokerAddress(host: advertisedHost ?? local?.ipAddress ?? "127.0.0.1", port: Int32(local?.port ?? 0))
    }
}
