import Synchronization

/// Publishes persistent messages with publisher confirms over its own connection.
///
/// `publish` returns once the broker confirmed the message (or returned it as unroutable).
/// Up to `confirmWindow` messages are in flight at once, pipelined. When the connection breaks,
/// every message sent but not yet confirmed is sent again on the next connection, so a message
/// whose `publish` returned is stored by the broker and one that was never confirmed is never
/// given up (consumers deduplicate by message id).
public final class AMQPPublisher: Sendable {
    private let loop: ConnectionLoop
    private let driver: PublisherDriver

    public init(
        configuration: AMQPConfiguration, topology: AMQPTopology = .empty, confirmWindow: Int = 1000,
        onConnectionEvent: @escaping @Sendable (AMQPConnectionEvent) -> Void = { _ in }
    ) {
        driver = PublisherDriver(topology: topology, window: confirmWindow, onEvent: onConnectionEvent)
        loop = ConnectionLoop(configuration: configuration, driver: driver, name: "amqp-publisher")
        loop.start()
    }

    /// Publishes and waits for the broker's confirm.
    public func publish(
        _ message: AMQPMessage, exchange: String, routingKey: String, mandatory: Bool = true
    ) async throws -> PublishConfirmation {
        try await withCheckedThrowingContinuation { continuation in
            let outgoing = PublisherDriver.Outgoing(
                exchange: exchange, routingKey: routingKey, mandatory: mandatory, message: message,
                continuation: continuation)
            if driver.enqueue(outgoing) {
                loop.wake()
            } else {
                continuation.resume(throwing: AMQPError(.shutdown, "the publisher is closed"))
            }
        }
    }

    /// Waits until every message published so far is confirmed, then closes the connection.
    /// After `timeout`, whatever is still unconfirmed fails with `shutdown`.
    public func close(timeout: Duration = .seconds(30)) async {
        driver.beginClosing()
        loop.wake()
        let deadline = ContinuousClock.now + timeout
        while !driver.hasEnded {
            if ContinuousClock.now >= deadline {
                driver.abandon()
                loop.wake()
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Connection state changes, for logs and metrics.
public enum AMQPConnectionEvent: Sendable {
    case connected(epoch: Int)
    case disconnected(AMQPError)
}

final class PublisherDriver: ConnectionDriver {
    struct Outgoing {
        let exchange: String
        let routingKey: String
        let mandatory: Bool
        let message: AMQPMessage
        let continuation: CheckedContinuation<PublishConfirmation, any Error>
        var returned: PublishConfirmation?
        var nacks = 0
    }

    private struct State {
        var queued = FIFO<Outgoing>()
        var unconfirmed: [UInt64: Outgoing] = [:]
        var nextTag: UInt64 = 1
        var closing = false
        var abandoned = false
        var ended = false
    }

    private let topology: AMQPTopology
    private let window: Int
    private let onEvent: @Sendable (AMQPConnectionEvent) -> Void
    private let state = Mutex(State())

    init(topology: AMQPTopology, window: Int, onEvent: @escaping @Sendable (AMQPConnectionEvent) -> Void) {
        self.topology = topology
        self.window = max(1, window)
        self.onEvent = onEvent
    }

    func enqueue(_ outgoing: Outgoing) -> Bool {
        state.withLock { state in
            guard !state.closing else { return false }
            state.queued.append(outgoing)
            return true
        }
    }

    func beginClosing() { state.withLock { $0.closing = true } }

    var hasEnded: Bool { state.withLock { $0.ended } }

    /// Fails everything still waiting and lets the loop end.
    func abandon() {
        let waiting = state.withLock { state in
            state.abandoned = true
            return state.queued.removeAll() + state.unconfirmed.values
        }
        for outgoing in waiting {
            outgoing.continuation.resume(throwing: AMQPError(.shutdown, "closed before the broker confirmed"))
        }
    }

    var isFinished: Bool {
        state.withLock { $0.abandoned || ($0.closing && $0.queued.isEmpty && $0.unconfirmed.isEmpty) }
    }

    func connected(_ connection: RabbitConnection, epoch: Int) throws(AMQPError) {
        try connection.declare(topology)
        try connection.enableConfirms()
        state.withLock { $0.nextTag = 1 }
        onEvent(.connected(epoch: epoch))
    }

    func disconnected(_ error: AMQPError) {
        // Whatever was sent and not confirmed goes out again, first, in its order.
        state.withLock { state in
            let resend = state.unconfirmed.sorted { $0.key < $1.key }.map(\.value)
            state.unconfirmed = [:]
            state.queued.prepend(resend)
        }
        onEvent(.disconnected(error))
    }

    func runCommands(on connection: RabbitConnection) throws(AMQPError) {
        while true {
            let next: (UInt64, Outgoing)? = state.withLock { state in
                guard state.unconfirmed.count < window, let outgoing = state.queued.popFirst() else { return nil }
                let tag = state.nextTag
                state.nextTag += 1
                state.unconfirmed[tag] = outgoing
                return (tag, outgoing)
            }
            guard let (_, outgoing) = next else { return }
            try connection.publish(
                outgoing.message, exchange: outgoing.exchange, routingKey: outgoing.routingKey,
                mandatory: outgoing.mandatory)
        }
    }

    func handle(_ event: RabbitConnection.Event, on connection: RabbitConnection) throws(AMQPError) {
        switch event {
        case .ack(let tag, let multiple):
            for outgoing in settle(tag: tag, multiple: multiple) {
                outgoing.continuation.resume(returning: outgoing.returned ?? .confirmed)
            }
        case .nack(let tag, let multiple):
            // The broker could not store them: send again, a few times, then give up.
            let failed = settle(tag: tag, multiple: multiple)
            var retry: [Outgoing] = []
            for var outgoing in failed {
                outgoing.nacks += 1
                if outgoing.nacks < 5 {
                    retry.append(outgoing)
                } else {
                    outgoing.continuation.resume(throwing: AMQPError(.publishNacked, "the broker refused the message"))
                }
            }
            if !retry.isEmpty { state.withLock { $0.queued.prepend(retry) } }
        case .returned(let code, let text, let exchange, let routingKey, let message):
            // A return comes just before the confirm of its message: mark the earliest
            // unconfirmed one it matches.
            state.withLock { state in
                let match = state.unconfirmed.filter {
                    $0.value.returned == nil && $0.value.exchange == exchange && $0.value.routingKey == routingKey
                        && $0.value.message.messageId == message.messageId
                }.keys.min()
                if let match { state.unconfirmed[match]?.returned = .unroutable(replyCode: code, replyText: text) }
            }
        case .delivery, .consumerCancelled, .other:
            break
        }
    }

    private func settle(tag: UInt64, multiple: Bool) -> [Outgoing] {
        state.withLock { state in
            let tags = multiple ? state.unconfirmed.keys.filter { $0 <= tag }.sorted() : [tag]
            return tags.compactMap { state.unconfirmed.removeValue(forKey: $0) }
        }
    }

    func loopEnded() {
        abandon()
        state.withLock { $0.ended = true }
    }
}
