import Synchronization

/// Consumes one queue over its own connection with manual acknowledgements.
///
/// Deliveries arrive in order, one by one on ``deliveries`` or in batches from
/// ``next(upTo:)`` (one or the other, from one task). Acknowledge each one once its effects are
/// committed: ``acknowledge(_:multiple:)``, ``reject(_:)`` (to the dead-letter exchange) or
/// ``requeue(_:)``. After a lost connection the consumer reconnects, declares, and consumes
/// again; an acknowledgement of a delivery from the lost connection is dropped (the broker
/// redelivers that message, with `redelivered` set).
public final class AMQPConsumer: Sendable {
    private let batches = DeliveryBatches()
    private let loop: ConnectionLoop
    private let driver: ConsumerDriver

    /// The deliveries one by one.
    public var deliveries: AMQPDeliveries { AMQPDeliveries(batches: batches) }

    /// The deliveries that have arrived and were not taken yet, oldest first, at most `limit`;
    /// waits for one when none has. Nil once the consumer has stopped or
    /// ``finishDeliveries()`` was called.
    public func next(upTo limit: Int) async -> [AMQPDelivery]? {
        await batches.next(upTo: limit)
    }

    /// Hands out no more deliveries (a graceful shutdown: finish the batch in hand, then
    /// ``stop()``): ``next(upTo:)`` and ``deliveries`` end, a task waiting in them included.
    /// What arrived and was not taken goes back to the queue when the consumer stops.
    public func finishDeliveries() {
        batches.finish()
    }

    /// Consumes `queue`; an empty name consumes the first queue of `topology`, which the broker
    /// names when it too has an empty name (an exclusive queue: see ``AMQPTopology/Queue/exclusive``).
    ///
    /// `maximumHeldBytes` bounds the memory deliveries take, as the broker's prefetch (a count)
    /// cannot: once the bodies delivered and not yet settled reach it, the consumer reads nothing
    /// more from the broker until some are settled (it overshoots by at most one message).
    public init(
        configuration: AMQPConfiguration, queue: String, topology: AMQPTopology = .empty, prefetch: UInt16 = 100,
        maximumHeldBytes: Int = .max, consumerTag: String = "covenant",
        onConnectionEvent: @escaping @Sendable (AMQPConnectionEvent) -> Void = { _ in }
    ) {
        driver = ConsumerDriver(
            queue: queue, topology: topology, prefetch: prefetch, maximumHeldBytes: maximumHeldBytes,
            consumerTag: consumerTag, deliveries: batches, onEvent: onConnectionEvent)
        loop = ConnectionLoop(configuration: configuration, driver: driver, name: "amqp-consumer-\(queue)")
        loop.start()
    }

    /// Acknowledges the delivery (and, with `multiple`, every earlier one of its connection).
    public func acknowledge(_ delivery: AMQPDelivery, multiple: Bool = false) {
        send(.ack(tag: delivery.deliveryTag, multiple: multiple, epoch: delivery.connectionEpoch))
    }

    /// Rejects the delivery without requeueing: the broker dead-letters it.
    public func reject(_ delivery: AMQPDelivery) {
        send(.reject(tag: delivery.deliveryTag, requeue: false, epoch: delivery.connectionEpoch))
    }

    /// Returns the delivery to the queue for another try (a quorum queue counts the delivery).
    public func requeue(_ delivery: AMQPDelivery) {
        send(.nack(tag: delivery.deliveryTag, requeue: true, epoch: delivery.connectionEpoch))
    }

    private func send(_ command: ConsumerDriver.Command) {
        driver.enqueue(command)
        loop.wake()
    }

    /// Stops consuming: sends the acknowledgements still queued, cancels the subscription and
    /// closes the connection. Deliveries not acknowledged go back to the queue. Returns when
    /// the connection is closed and the deliveries have ended.
    public func stop() async {
        driver.beginStopping()
        loop.wake()
        while !driver.hasEnded {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

final class ConsumerDriver: ConnectionDriver {
    enum Command {
        case ack(tag: UInt64, multiple: Bool, epoch: Int)
        case nack(tag: UInt64, requeue: Bool, epoch: Int)
        case reject(tag: UInt64, requeue: Bool, epoch: Int)

        var epoch: Int {
            switch self {
            case .ack(_, _, let epoch), .nack(_, _, let epoch), .reject(_, _, let epoch): epoch
            }
        }
    }

    private struct State {
        var commands: [Command] = []
        var settlement = AckCoalescer()
        var epoch = 0
        var connected = false
        var stopping = false
        var cancelled = false
        var ended = false
    }

    private let queue: String
    private let topology: AMQPTopology
    private let prefetch: UInt16
    private let consumerTag: String
    private let deliveries: DeliveryBatches
    private let onEvent: @Sendable (AMQPConnectionEvent) -> Void
    private let state = Mutex(State())
    /// The current connection's number, read per delivery: touched only on the loop thread.
    private nonisolated(unsafe) var loopEpoch = 0
    private nonisolated(unsafe) var loopCancelled = false
    /// The body sizes of deliveries not settled yet, by tag, and their sum: loop thread only.
    private nonisolated(unsafe) var held: [UInt64: Int] = [:]
    private nonisolated(unsafe) var heldBytes = 0
    private let maximumHeldBytes: Int

    init(
        queue: String, topology: AMQPTopology, prefetch: UInt16, maximumHeldBytes: Int = .max, consumerTag: String,
        deliveries: DeliveryBatches, onEvent: @escaping @Sendable (AMQPConnectionEvent) -> Void
    ) {
        self.queue = queue
        self.topology = topology
        self.prefetch = prefetch
        self.maximumHeldBytes = max(1, maximumHeldBytes)
        self.consumerTag = consumerTag
        self.deliveries = deliveries
        self.onEvent = onEvent
    }

    func enqueue(_ command: Command) {
        state.withLock { $0.commands.append(command) }
    }

    func beginStopping() { state.withLock { $0.stopping = true } }

    var hasEnded: Bool { state.withLock { $0.ended } }

    var isInputPaused: Bool { heldBytes >= maximumHeldBytes }

    /// A delivery settled (or, `through`, every one up to its tag): its bytes are free.
    private func release(_ tag: UInt64, through: Bool = false) {
        if through {
            for (held, bytes) in held where held <= tag {
                heldBytes -= bytes
                self.held[held] = nil
            }
        } else if let bytes = held.removeValue(forKey: tag) {
            heldBytes -= bytes
        }
    }

    var hasPendingCommands: Bool {
        state.withLock { !$0.commands.isEmpty || ($0.stopping && !$0.cancelled) }
    }

    var isFinished: Bool {
        state.withLock { state in
            // Stopping with no connection: nothing can be acknowledged any more.
            state.stopping && state.commands.isEmpty && (state.cancelled || !state.connected)
        }
    }

    func connected(_ connection: RabbitConnection, epoch: Int) throws(AMQPError) {
        let declared = try connection.declare(topology)
        // A queue given no name is the one the broker just named.
        let queue = self.queue.isEmpty ? (declared.first ?? "") : self.queue
        try connection.setPrefetch(prefetch)
        try connection.consume(queue: queue, consumerTag: consumerTag)
        loopEpoch = epoch
        loopCancelled = false
        // The lost connection's deliveries can no longer be settled: none is held for it.
        held.removeAll()
        heldBytes = 0
        state.withLock { state in
            state.epoch = epoch
            state.settlement = AckCoalescer()
            state.connected = true
            state.cancelled = false
            // Acknowledgements of the lost connection's deliveries cannot be sent any more.
            state.commands.removeAll { $0.epoch != epoch }
        }
        onEvent(.connected(epoch: epoch, node: connection.node))
    }

    func disconnected(_ error: AMQPError) {
        state.withLock { state in
            state.connected = false
            state.commands.removeAll()
        }
        onEvent(.disconnected(error))
    }

    func runCommands(on connection: RabbitConnection) throws(AMQPError) {
        let (commands, epoch, cancel) = state.withLock { state in
            let commands = state.commands
            state.commands.removeAll(keepingCapacity: true)
            let cancel = state.stopping && !state.cancelled
            return (commands, state.epoch, cancel)
        }
        // Requeues, rejects and explicit multiple acks go out as they are; single acks are
        // coalesced into as few frames as the tags allow.
        var acks: [UInt64] = []
        var settledOtherwise: [UInt64] = []
        for command in commands where command.epoch == epoch {
            switch command {
            case .ack(let tag, true, _):
                try connection.ack(tag, multiple: true)
                state.withLock { $0.settlement.settleAll(upTo: tag) }
                release(tag, through: true)
            case .ack(let tag, false, _):
                acks.append(tag)
                release(tag)
            case .nack(let tag, let requeue, _):
                try connection.nack(tag, multiple: false, requeue: requeue)
                settledOtherwise.append(tag)
                release(tag)
            case .reject(let tag, let requeue, _):
                try connection.reject(tag, requeue: requeue)
                settledOtherwise.append(tag)
                release(tag)
            }
        }
        if !acks.isEmpty || !settledOtherwise.isEmpty {
            let plan = state.withLock { $0.settlement.plan(acks: acks, settledOtherwise: settledOtherwise) }
            if let upTo = plan.multipleUpTo { try connection.ack(upTo, multiple: true) }
            for tag in plan.single { try connection.ack(tag, multiple: false) }
        }
        if cancel {
            try connection.cancel(consumerTag: consumerTag)
            state.withLock { $0.cancelled = true }
            loopCancelled = true
        }
    }

    func handle(_ event: RabbitConnection.Event, on connection: RabbitConnection) throws(AMQPError) {
        switch event {
        case .delivery(let tag, let redelivered, let exchange, let routingKey, let message):
            // After a cancel the broker may still deliver what was in flight: leave it unacked;
            // closing the channel returns it to the queue.
            guard !loopCancelled else { return }
            held[tag] = message.body.count
            heldBytes += message.body.count
            deliveries.append(
                AMQPDelivery(
                    message: message, deliveryTag: tag, redelivered: redelivered, exchange: exchange,
                    routingKey: routingKey, connectionEpoch: loopEpoch))
        case .consumerCancelled:
            // The broker cancelled the subscription (queue deleted, node gone): start over.
            throw AMQPError(.channelClosed, "the broker cancelled the consumer of \(queue)")
        case .ack, .nack, .returned, .other:
            break
        }
    }

    func loopEnded() {
        state.withLock { $0.ended = true }
        deliveries.finish()
    }
}

/// Turns a batch of single acknowledgements into as few frames as possible.
///
/// Delivery tags on a channel are 1, 2, 3…; `nextUnsettled` is the lowest not yet acknowledged,
/// rejected or requeued. When a batch settles a run of tags from there, one `basic.ack` with
/// `multiple` covers the run, up to the last tag this batch acknowledges: a multiple ack settles
/// only deliveries still outstanding (tags settled earlier are untouched), but its own tag must
/// be outstanding, or RabbitMQ closes the channel (`unknown delivery tag`) and every unsettled
/// delivery comes again. Acknowledgements past a gap go out one by one.
struct AckCoalescer {
    private var nextUnsettled: UInt64 = 1
    /// Tags above `nextUnsettled` already settled by a frame of their own.
    private var settledAhead: Set<UInt64> = []

    struct Plan {
        var multipleUpTo: UInt64?
        var single: [UInt64]
    }

    /// A multiple ack up to `tag` was sent.
    mutating func settleAll(upTo tag: UInt64) {
        guard tag >= nextUnsettled else { return }
        nextUnsettled = tag + 1
        settledAhead = settledAhead.filter { $0 > tag }
        advance(through: [])
    }

    /// Moves `nextUnsettled` past the run of tags settled before or in `pending`; returns the
    /// last tag of the run that is in `pending` (nil when none is).
    @discardableResult
    private mutating func advance(through pending: Set<UInt64>) -> UInt64? {
        var lastPending: UInt64?
        while true {
            if pending.contains(nextUnsettled) {
                lastPending = nextUnsettled
            } else if !settledAhead.contains(nextUnsettled) {
                return lastPending
            }
            settledAhead.remove(nextUnsettled)
            nextUnsettled += 1
        }
    }

    mutating func plan(acks: [UInt64], settledOtherwise: [UInt64]) -> Plan {
        settledAhead.formUnion(settledOtherwise)
        let multipleUpTo = advance(through: Set(acks))
        let single = acks.filter { $0 >= nextUnsettled }.sorted()
        settledAhead.formUnion(single)
        return Plan(multipleUpTo: multipleUpTo, single: single)
    }
}
