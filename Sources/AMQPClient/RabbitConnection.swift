internal import CRabbitMQ
import Glibc

/// One rabbitmq-c connection with channel 1 open.
///
/// rabbitmq-c forbids sharing a connection between threads: a `RabbitConnection` is created,
/// used and destroyed by the one ``ConnectionLoop`` thread that owns it.
final class RabbitConnection {
    static let channel: amqp_channel_t = 1
    private let state: amqp_connection_state_t
    private var isOpen = false
    /// Reused for every publish's strings and headers.
    private let publishArena = CArena()
    /// The `user_id` published messages carry when they name none (``AMQPConfiguration/stampsUserId``).
    private let stampedUserId: String?

    /// The broker node this connection is to.
    let node: AMQPConfiguration.Node

    init(_ configuration: AMQPConfiguration, node: AMQPConfiguration.Node) throws(AMQPError) {
        guard let state = amqp_new_connection() else {
            throw AMQPError(.connectionFailed, "rabbitmq-c could not allocate a connection")
        }
        self.state = state
        self.node = node
        self.stampedUserId = configuration.stampsUserId ? configuration.user : nil
        do {
            try open(configuration)
            isOpen = true
        } catch {
            amqp_destroy_connection(state)
            throw error
        }
    }

    deinit {
        if isOpen { amqp_destroy_connection(state) }
    }

    /// A connection to the first of the nodes, in order, that takes one (the CLI's short-lived
    /// connections); the last node's error when none does.
    static func toAnyNode(of configuration: AMQPConfiguration) throws(AMQPError) -> RabbitConnection {
        var lastError = AMQPError(.invalidConfiguration, "the configuration names no broker node")
        for node in configuration.nodes {
            do throws(AMQPError) {
                return try RabbitConnection(configuration, node: node)
            } catch {
                lastError = error.at(node)
            }
        }
        throw lastError
    }

    private func open(_ configuration: AMQPConfiguration) throws(AMQPError) {
        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError(.connectionFailed, "rabbitmq-c could not create a TLS socket") }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
            if let caFile = tls.caFile, amqp_ssl_socket_set_cacert(socket, caFile) != AMQP_STATUS_OK.rawValue {
                throw AMQPError(.invalidConfiguration, "the CA file cannot be used")
            }
            if let certificate = tls.certificateFile, let key = tls.keyFile,
                amqp_ssl_socket_set_key(socket, certificate, key) != AMQP_STATUS_OK.rawValue
            {
                throw AMQPError(.invalidConfiguration, "the client certificate or key cannot be used")
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else { throw AMQPError(.connectionFailed, "rabbitmq-c could not create a socket") }
        var timeout = timeval(tv_sec: configuration.connectTimeoutSeconds, tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, node.host, Int32(node.port), &timeout)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionFailed, "cannot connect: \(Self.statusText(status))")
        }
        let arena = CArena()
        var properties = arena.table([
            "connection_name": .string(configuration.connectionName), "product": .string("covenant"),
        ])
        let reply = covenant_amqp_login_plain(
            state, configuration.virtualHost, 0, 131_072, Int32(configuration.heartbeatSeconds), &properties,
            configuration.user, configuration.password)
        do {
            try check(reply, "login")
        } catch {
            if error.code == .connectionClosed && (error.replyCode == 403 || error.replyCode == nil) {
                throw AMQPError(.authenticationFailed, "the broker refused the login of user \(configuration.user)")
            }
            throw error
        }
        amqp_channel_open(state, Self.channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
    }

    static func statusText(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    /// Throws the broker's or the library's complaint when `reply` is not a normal one; for a
    /// channel or connection close, it answers the close first, as the protocol asks.
    private func check(_ reply: amqp_rpc_reply_t, _ operation: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AMQPError(.connectionClosed, "\(operation): \(Self.statusText(reply.library_error))")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            try serverClosed(reply.reply, operation)
        default:
            throw AMQPError(.connectionClosed, "\(operation): no reply from the broker")
        }
    }

    /// The broker closed the channel or the connection with `method`: answer and throw.
    private func serverClosed(_ method: amqp_method_t, _ operation: String) throws(AMQPError) {
        if method.id == covenant_channel_close {
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(state, Self.channel, covenant_channel_close_ok, &ok)
            throw AMQPError(
                .channelClosed, "\(operation): \(FieldTableDecoding.string(close.reply_text))",
                replyCode: Int(close.reply_code))
        }
        if method.id == covenant_connection_close {
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var ok = amqp_connection_close_ok_t(dummy: 0)
            amqp_send_method(state, 0, covenant_connection_close_ok, &ok)
            throw AMQPError(
                .connectionClosed, "\(operation): \(FieldTableDecoding.string(close.reply_text))",
                replyCode: Int(close.reply_code))
        }
        throw AMQPError(.connectionClosed, "\(operation): unexpected method \(method.id) from the broker")
    }

    // MARK: Topology

    /// Declares the topology; returns each queue's name as the broker has it (the name it chose
    /// for a queue declared without one).
    @discardableResult
    func declare(_ topology: AMQPTopology) throws(AMQPError) -> [String] {
        for exchange in topology.exchanges {
            let arena = CArena()
            amqp_exchange_declare(
                state, Self.channel, arena.bytes(exchange.name), arena.bytes(exchange.type), 0,
                exchange.durable ? 1 : 0, 0, 0, amqp_empty_table)
            try check(amqp_get_rpc_reply(state), "exchange.declare \(exchange.name)")
        }
        var names: [String] = []
        for queue in topology.queues {
            let name = try declareQueue(queue.name, arguments: queue.arguments, exclusive: queue.exclusive)
            names.append(name)
            for binding in queue.bindings {
                try bind(queue: name, exchange: binding.exchange, routingKey: binding.routingKey)
            }
            if let deadLetterExchange = queue.deadLetterExchange {
                try declareQueue(queue.deadLetterQueueName, arguments: ["x-queue-type": .string(queue.kind.rawValue)])
                try bind(queue: queue.deadLetterQueueName, exchange: deadLetterExchange, routingKey: queue.name)
            }
            for delay in queue.retryDelaysMilliseconds {
                try declareQueue(
                    queue.retryQueueName(milliseconds: delay), arguments: queue.retryArguments(milliseconds: delay))
            }
        }
        return names
    }

    /// A durable queue, or an exclusive one (not durable, deleted with its connection; an empty
    /// name lets the broker choose one). Returns the queue's name.
    @discardableResult
    private func declareQueue(
        _ name: String, arguments: AMQPTable, exclusive: Bool = false
    ) throws(AMQPError)
        -> String
    {
        let arena = CArena()
        let ok = amqp_queue_declare(
            state, Self.channel, arena.bytes(name), 0, exclusive ? 0 : 1, exclusive ? 1 : 0, exclusive ? 1 : 0,
            arena.table(arguments))
        try check(amqp_get_rpc_reply(state), "queue.declare \(name)")
        guard let ok else { return name }
        return FieldTableDecoding.string(ok.pointee.queue)
    }

    private func bind(queue: String, exchange: String, routingKey: String) throws(AMQPError) {
        let arena = CArena()
        amqp_queue_bind(
            state, Self.channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "queue.bind \(queue)")
    }

    /// Messages ready and consumers of a queue (a passive declare: the queue must exist).
    func inspect(queue: String) throws(AMQPError) -> (messages: Int, consumers: Int) {
        let arena = CArena()
        let ok = amqp_queue_declare(state, Self.channel, arena.bytes(queue), 1, 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "queue.declare (passive) \(queue)")
        guard let ok else { throw AMQPError(.connectionClosed, "queue.declare: no reply") }
        return (Int(ok.pointee.message_count), Int(ok.pointee.consumer_count))
    }

    // MARK: Publishing

    func enableConfirms() throws(AMQPError) {
        amqp_confirm_select(state, Self.channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
    }

    func publish(_ message: AMQPMessage, exchange: String, routingKey: String, mandatory: Bool) throws(AMQPError) {
        let arena = publishArena
        arena.reset()
        var properties = message.properties(in: arena, userId: message.userId ?? stampedUserId)
        // The body is passed in place: rabbitmq-c copies it into its frame buffer.
        let status = message.body.withUnsafeBytes { body in
            amqp_basic_publish(
                state, Self.channel, arena.bytes(exchange), arena.bytes(routingKey), mandatory ? 1 : 0, 0, &properties,
                amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionClosed, "basic.publish: \(Self.statusText(status))")
        }
    }

    // MARK: Consuming

    func setPrefetch(_ count: UInt16) throws(AMQPError) {
        amqp_basic_qos(state, Self.channel, 0, count, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos")
    }

    func consume(queue: String, consumerTag: String) throws(AMQPError) {
        let arena = CArena()
        amqp_basic_consume(
            state, Self.channel, arena.bytes(queue), arena.bytes(consumerTag), 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "basic.consume \(queue)")
    }

    func cancel(consumerTag: String) throws(AMQPError) {
        let arena = CArena()
        amqp_basic_cancel(state, Self.channel, arena.bytes(consumerTag))
        try check(amqp_get_rpc_reply(state), "basic.cancel")
    }

    func ack(_ tag: UInt64, multiple: Bool) throws(AMQPError) {
        try checkStatus(amqp_basic_ack(state, Self.channel, tag, multiple ? 1 : 0), "basic.ack")
    }

    func nack(_ tag: UInt64, multiple: Bool, requeue: Bool) throws(AMQPError) {
        try checkStatus(amqp_basic_nack(state, Self.channel, tag, multiple ? 1 : 0, requeue ? 1 : 0), "basic.nack")
    }

    func reject(_ tag: UInt64, requeue: Bool) throws(AMQPError) {
        try checkStatus(amqp_basic_reject(state, Self.channel, tag, requeue ? 1 : 0), "basic.reject")
    }

    private func checkStatus(_ status: Int32, _ operation: String) throws(AMQPError) {
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionClosed, "\(operation): \(Self.statusText(status))")
        }
    }

    // MARK: Frames

    /// What the broker sent that the owner must act on.
    enum Event {
        case delivery(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String, message: AMQPMessage)
        case ack(tag: UInt64, multiple: Bool)
        case nack(tag: UInt64, multiple: Bool)
        case returned(replyCode: Int, replyText: String, exchange: String, routingKey: String, message: AMQPMessage)
        case consumerCancelled
        case other
    }

    /// The next event already received, without waiting; `nil` when none is there. Heartbeats
    /// are answered and sent here.
    func nextEvent() throws(AMQPError) -> Event? {
        var frame = amqp_frame_t()
        var immediately = timeval(tv_sec: 0, tv_usec: 0)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &immediately)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionClosed, "connection lost: \(Self.statusText(status))")
        }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return .other }
        let method = frame.payload.method
        switch method.id {
        case covenant_basic_deliver:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = deliver.delivery_tag
            let redelivered = deliver.redelivered != 0
            let exchange = FieldTableDecoding.string(deliver.exchange)
            let routingKey = FieldTableDecoding.string(deliver.routing_key)
            return .delivery(
                tag: tag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                message: try readContent())
        case covenant_basic_ack:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case covenant_basic_nack:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case covenant_basic_return:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let replyText = FieldTableDecoding.string(returned.reply_text)
            let exchange = FieldTableDecoding.string(returned.exchange)
            let routingKey = FieldTableDecoding.string(returned.routing_key)
            return .returned(
                replyCode: Int(returned.reply_code), replyText: replyText, exchange: exchange, routingKey: routingKey,
                message: try readContent())
        case covenant_basic_cancel:
            return .consumerCancelled
        case covenant_channel_close, covenant_connection_close:
            try serverClosed(method, "broker")
            return .other
        default:
            return .other
        }
    }

    /// The header and body frames that follow a deliver or return method.
    private func readContent() throws(AMQPError) -> AMQPMessage {
        var content = amqp_message_t()
        let reply = amqp_read_message(state, Self.channel, &content, 0)
        try check(reply, "reading a message")
        defer { amqp_destroy_message(&content) }
        return AMQPMessage(body: FieldTableDecoding.array(content.body), properties: content.properties)
    }

    /// Whether received data waits in the library's buffers (a poll on the socket would miss it).
    var hasBufferedInput: Bool {
        amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0
    }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Keeps the connection alive while the loop reads nothing (rabbitmq-c beats only in waits).
    func sendHeartbeat() throws(AMQPError) {
        var frame = amqp_frame_t()
        frame.frame_type = UInt8(AMQP_FRAME_HEARTBEAT)
        frame.channel = 0
        let status = amqp_send_frame(state, &frame)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionClosed, "connection lost: \(Self.statusText(status))")
        }
    }

    /// Holds back partial TCP segments while `body` writes several messages, then sends what
    /// is left: messages leave in full segments rather than one segment each (rabbitmq-c sends
    /// every message's last frame on its own).
    func corked<T>(_ body: () throws(AMQPError) -> T) throws(AMQPError) -> T {
        var on: Int32 = 1
        var off: Int32 = 0
        let fd = socketDescriptor
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &on, socklen_t(MemoryLayout<Int32>.size))
        defer { _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &off, socklen_t(MemoryLayout<Int32>.size)) }
        return try body()
    }

    /// Frees the memory of frames already handled.
    func releaseBuffers() {
        amqp_maybe_release_buffers(state)
    }

    /// Closes channel and connection politely; for a connection already broken, just frees it.
    func close(politely: Bool) {
        guard isOpen else { return }
        if politely {
            _ = amqp_channel_close(state, Self.channel, AMQP_REPLY_SUCCESS)
            _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        }
        amqp_destroy_connection(state)
        isOpen = false
    }
}
