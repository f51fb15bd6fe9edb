import Synchronization

/// Publishes persistent messages with publisher confirms over its own connection.
///
/// `publish` returns once the broker confirmed the message (or returned it as unroutable).
/// Up to `confirmWindow` messages are in flight at once, pipelined. When the connection breaks,
/// every message sent but not yet confirmed is sent again on the next connection, so a message
/// whose `publish` returned is stored by the broker and one that was never confirmed is given up
/// only when the broker refused it: five negative confirms, or a 406 closing the channel (a body
/// over its `max_message_size`), which fails what was unconfirmed (consumers deduplicate by
/// message id what is sent twice).
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
        // Not a batch of one: no result array to fill, map and index for each message.
        try await withCheckedThrowingContinuation { continuation in
            let receipt = PublishReceipt(continuation)
            send(
                [
                    PublisherDriver.Outgoing(
                        exchange: exchange, routingKey: routingKey, mandatory: mandatory, message: message,
                        receipt: receipt, index: 0)
                ], receipt: receipt)
        }
    }

    /// Publishes messages in order and waits until the broker confirmed every one of them:
    /// one wait for the batch (what an outbox relay sends), the same guarantees as one by one.
    /// Throws the first failure; messages confirmed before it stay published.
    public func publish(_ batch: [OutgoingMessage]) async throws -> [PublishConfirmation] {
        guard !batch.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let receipt = PublishReceipt(count: batch.count, continuation)
            let outgoing = batch.enumerated().map { index, item in
                PublisherDriver.Outgoing(
                    exchange: item.exchange, routingKey: item.routingKey, mandatory: item.mandatory,
                    message: item.message, receipt: receipt, index: index)
            }
            send(outgoing, receipt: receipt)
        }
    }

    private func send(_ outgoing: [PublisherDriver.Outgoing], receipt: PublishReceipt) {
        if driver.enqueue(outgoing) {
            loop.wake()
        } else {
            receipt.fail(AMQPError(.shutdown, "the publisher is closed"))
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

/// A message and where to publish it.
public struct OutgoingMessage: Sendable {
    public var message: AMQPMessage
    public var exchange: String
    public var routingKey: String
    public var mandatory: Bool

    public init(_ message: AMQPMessage, exchange: String, routingKey: String, mandatory: Bool = true) {
        self.message = message
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
    }
}

/// Collects the confirms of one `publish` call and resumes its caller once all arrived (or
/// at the first failure).
final class PublishReceipt: Sendable {
    /// Who waits: the caller of a single publish, or of a batch.
    private enum Waiter {
        case one(CheckedContinuation<PublishConfirmation, any Error>)
        case batch(CheckedContinuation<[PublishConfirmation], any Error>)
    }

    private struct State {
        /// A batch's confirmations by index, and how many are still to come (a single message
        /// needs neither).
        var results: [PublishConfirmation?]
        var remaining: Int
        var waiter: Waiter?
    }

    private let state: Mutex<State>

    init(_ continuation: CheckedContinuation<PublishConfirmation, any Error>) {
        state = Mutex(State(results: [], remaining: 0, waiter: .one(continuation)))
    }

    init(count: Int, _ continuation: CheckedContinuation<[PublishConfirmation], any Error>) {
        state = Mutex(
            State(results: Array(repeating: nil, count: count), remaining: count, waiter: .batch(continuation)))
    }

    func confirm(_ index: Int, _ confirmation: PublishConfirmation) {
        let finished: (Waiter, [PublishConfirmation])? = state.withLock { state in
            guard let waiter = state.waiter else { return nil }
            if case .batch = waiter {
                guard state.results[index] == nil else { return nil }
                state.results[index] = confirmation
                state.remaining -= 1
                guard state.remaining == 0 else { return nil }
            }
            state.waiter = nil
            return (waiter, state.results.map { $0! })
        }
        switch finished {
        case (.one(let continuation), _)?: continuation.resume(returning: confirmation)
        case (.batch(let continuation), let results)?: continuation.resume(returning: results)
        case nil: break
        }
    }

    func fail(_ error: AMQPError) {
        let waiter = state.withLock { state in
            defer { state.waiter = nil }
            return state.waiter
        }
        switch waiter {
        case .one(let continuation): continuation.resume(throwing: error)
        case .batch(let continuation): continuation.resume(throwing: error)
        case nil: break
        }
    }
}

/// Connection state changes, for logs and metrics.
public enum AMQPConnectionEvent: Sendable {
    /// Connected (epoch 1) or connected again, to this node.
    case connected(epoch: Int, node: AMQPConfiguration.Node)
    /// The connection was lost, or an attempt failed; the error names the node.
    case disconnected(AMQPError)
}

final class PublisherDriver: ConnectionDriver {
    /// One message on its way: a class, so the queue, the window and the loop pass one
    /// reference around instead of copying a dozen fields. `returned` and `nacks` change only
    /// under the driver's lock or on the loop thread.
    final class Outgoing: @unchecked Sendable {
        let exchange: String
        let routingKey: String
        let mandatory: Bool
        let message: AMQPMessage
        let receipt: PublishReceipt
        let index: Int
        var returned: PublishConfirmation?
        var nacks = 0

        init(
            exchange: String, routingKey: String, mandatory: Bool, message: AMQPMessage, receipt: PublishReceipt,
            index: Int
        ) {
            self.exchange = exchange
            self.routingKey = routingKey
            self.mandatory = mandatory
            self.message = message
            self.receipt = receipt
            self.index = index
        }
    }

    private struct State {
        var queued = FIFO<Outgoing>()
        /// Sent and not yet confirmed, by delivery tag: tags on a channel are consecutive from 1,
        /// so entry `i` has tag `firstTag + i` (settled entries are `nil` until the front moves).
        var unconfirmed = UnconfirmedWindow()
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

    func enqueue(_ batch: [Outgoing]) -> Bool {
        state.withLock { state in
            guard !state.closing else { return false }
            for outgoing in batch { state.queued.append(outgoing) }
            return true
        }
    }

    func beginClosing() { state.withLock { $0.closing = true } }

    var hasEnded: Bool { state.withLock { $0.ended } }

    /// Fails everything still waiting and lets the loop end.
    func abandon() {
        let waiting = state.withLock { state in
            state.abandoned = true
            return state.queued.removeAll() + state.unconfirmed.removeAll()
        }
        for outgoing in waiting {
            outgoing.receipt.fail(AMQPError(.shutdown, "closed before the broker confirmed"))
        }
    }

    var hasPendingCommands: Bool {
        state.withLock { (!$0.queued.isEmpty && $0.unconfirmed.count < window) || $0.abandoned }
    }

    var isFinished: Bool {
        state.withLock { $0.abandoned || ($0.closing && $0.queued.isEmpty && $0.unconfirmed.count == 0) }
    }

    func connected(_ connection: RabbitConnection, epoch: Int) throws(AMQPError) {
        try connection.declare(topology)
        try connection.enableConfirms()
        state.withLock { $0.unconfirmed = UnconfirmedWindow() }
        onEvent(.connected(epoch: epoch, node: connection.node))
    }

    func disconnected(_ error: AMQPError) {
        // Whatever was sent and not confirmed goes out again, first, in its order; unless the
        // broker refused one of them (406: a body over its `max_message_size`), which it would
        // refuse again and again: those fail, and the caller finds which one.
        let refused = error.code == .channelClosed && error.replyCode == 406
        let failed = state.withLock { state -> [Outgoing] in
            let unconfirmed = state.unconfirmed.removeAll()
            if refused { return unconfirmed }
            state.queued.prepend(unconfirmed)
            return []
        }
        for outgoing in failed { outgoing.receipt.fail(error) }
        onEvent(.disconnected(error))
    }

    func runCommands(on connection: RabbitConnection) throws(AMQPError) {
        while true {
            // Take as many as the window allows in one go, then send them without the lock.
            let batch: [Outgoing] = state.withLock { state in
                var batch: [Outgoing] = []
                while state.unconfirmed.count < window, let outgoing = state.queued.popFirst() {
                    state.unconfirmed.append(outgoing)
                    batch.append(outgoing)
                }
                return batch
            }
            guard !batch.isEmpty else { return }
            func send() throws(AMQPError) {
                for outgoing in batch {
                    try connection.publish(
                        outgoing.message, exchange: outgoing.exchange, routingKey: outgoing.routingKey,
                        mandatory: outgoing.mandatory)
                }
            }
            if batch.count > 1 {
                try connection.corked(send)
            } else {
                try send()
            }
        }
    }

    func handle(_ event: RabbitConnection.Event, on connection: RabbitConnection) throws(AMQPError) {
        switch event {
        case .ack(let tag, let multiple):
            for outgoing in settle(tag: tag, multiple: multiple) {
                outgoing.receipt.confirm(outgoing.index, outgoing.returned ?? .confirmed)
            }
        case .nack(let tag, let multiple):
            // The broker could not store them: send again, a few times, then give up.
            let failed = settle(tag: tag, multiple: multiple)
            var retry: [Outgoing] = []
            for outgoing in failed {
                outgoing.nacks += 1
                if outgoing.nacks < 5 {
                    retry.append(outgoing)
                } else {
                    outgoing.receipt.fail(AMQPError(.publishNacked, "the broker refused the message"))
                }
            }
            if !retry.isEmpty { state.withLock { $0.queued.prepend(retry) } }
        case .returned(let code, let text, let exchange, let routingKey, let message):
            // A return comes just before the confirm of its message: mark the earliest
            // unconfirmed one it matches.
            state.withLock { state in
                state.unconfirmed.markFirst(as: .unroutable(replyCode: code, replyText: text)) {
                    $0.returned == nil && $0.exchange == exchange && $0.routingKey == routingKey
                        && $0.message.messageId == message.messageId
                }
            }
        case .delivery, .consumerCancelled, .other:
            break
        }
    }

    private func settle(tag: UInt64, multiple: Bool) -> [Outgoing] {
        state.withLock { $0.unconfirmed.settle(tag: tag, multiple: multiple) }
    }

    func loopEnded() {
        abandon()
        state.withLock { $0.ended = true }
    }
}

/// Messages sent on a channel and not yet confirmed, indexed by delivery tag.
///
/// A channel numbers its publishes 1, 2, 3…, so the entry for tag `t` sits at `t − firstTag`:
/// settling one tag or every tag up to one is direct, whatever the window's size.
struct UnconfirmedWindow {
    private var entries: [PublisherDriver.Outgoing?] = []
    private var head = 0
    private var firstTag: UInt64 = 1
    private(set) var count = 0

    mutating func append(_ outgoing: PublisherDriver.Outgoing) {
        entries.append(outgoing)
        count += 1
    }

    /// Removes and returns the entry of `tag`, or of every tag up to it.
    mutating func settle(tag: UInt64, multiple: Bool) -> [PublisherDriver.Outgoing] {
        guard tag >= firstTag else { return [] }
        let index = head + Int(tag - firstTag)
        guard index < entries.count else { return [] }
        var settled: [PublisherDriver.Outgoing] = []
        for position in (multiple ? head : index)...index {
            if let outgoing = entries[position] {
                settled.append(outgoing)
                entries[position] = nil
            }
        }
        count -= settled.count
        // Move the front past settled entries.
        while head < entries.count, entries[head] == nil {
            head += 1
            firstTag += 1
        }
        if head > 1024 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return settled
    }

    /// Marks the earliest entry matching `predicate`.
    mutating func markFirst(as confirmation: PublishConfirmation, where predicate: (PublisherDriver.Outgoing) -> Bool) {
        for position in head..<entries.count {
            if let outgoing = entries[position], predicate(outgoing) {
                outgoing.returned = confirmation
                return
            }
        }
    }

    /// Everything unsettled, in tag order; the window starts again at tag 1.
    mutating func removeAll() -> [PublisherDriver.Outgoing] {
        let all = entries[head...].compactMap { $0 }
        self = UnconfirmedWindow()
        return all
    }
}
