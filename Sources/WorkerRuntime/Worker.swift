public import AMQPClient
import BillingDomain
import CovenantMessages
import Crypto
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
public import WorkerStores

/// The shared worker runtime: consume → decode and validate the envelope → inbox check →
/// handler (the domain decides) → store change and outbox in one transaction → ack; an outbox
/// relay publishing with confirms; back-off retries for faults; for bad input `command.rejected`
/// and a dead letter with the reason in its headers; a clean stop on SIGTERM.
public final class Worker: Service {
    public struct Configuration: Sendable {
        /// The role's queue (`covenant.rating`).
        public var queue: String
        public var topology: AMQPTopology
        public var prefetch: UInt16 = 500
        /// The most bytes of message bodies taken from the broker and not yet settled: the
        /// consumer reads no more until the worker settles some (a message may pass it by at
        /// most its own size, which the broker's `max_message_size` bounds). Prefetch is a
        /// count: 500 events of 16 MiB would be 8 GiB.
        public var maximumHeldBytes = 64 << 20
        /// The largest message the relay publishes: the broker's `max_message_size`
        /// (compose/rabbitmq.conf and scripts/rabbitmq set RabbitMQ 4's default, 16 MiB).
        public var maximumMessageBytes = 16 << 20
        /// Most deliveries taken from the consumer at a time. Consecutive messages of the
        /// handler's batchable types among them are decided together and committed in one
        /// transaction; the rest one by one, in order.
        public var batchSize = 250
        /// Versions conflicts retried before the message goes back to the queue.
        public var conflictRetries = 20
        /// Longest wait between retries of a fault.
        public var maximumBackoff: Duration = .seconds(10)
        /// Faults a message meets while the store answers before it is set aside as
        /// `internal_error` (``FaultPolicy``).
        public var faultLimit = 5
        /// Times a redelivered message may be begun without its worker ending it (the worker
        /// died or was killed meanwhile) before it is set aside as `internal_error`
        /// (`Worker+Redeliveries`).
        public var crashLimit = 3
        /// A message's type must be the routing key it was published with (an event's, after its
        /// tenant), and one the queue is bound to take from the exchange it came through, so that
        /// a command's routing key (the binding that brought it to this queue) cannot carry an
        /// event's type, or another command's. Off only for tests whose queues bind routing keys
        /// of their own to keep apart from each other.
        public var typeMustMatchRoutingKey = true
        /// Broker users entitled to every tenant and to the operator commands, besides the
        /// worker's own user (`COVENANT_OPERATORS`).
        public var operators: Set<String> = []
        /// Relay: rows per claim and how long a claim lasts.
        public var relayBatch = 500
        public var relayLease: Duration = .seconds(30)

        public init(queue: String, topology: AMQPTopology) {
            self.queue = queue
            self.topology = topology
        }
    }

    let configuration: Configuration
    let amqp: AMQPConfiguration
    let store: any DocumentStore
    let handler: any MessageHandler
    /// The handler's, asked once: a handler builds the set each time it is asked.
    let batchableTypes: Set<String>
    /// `exchange type` of each type the queue is bound to take (``Topology/boundTypes(of:)``).
    let boundTypes: Set<String>
    /// The configuration's operators and the worker's own broker user.
    let operators: Set<String>
    let decidesAheadOfCommit: Bool
    let events: EventFactory
    /// What the runtime's own events (`command.rejected`) are stamped with.
    let clock: EventClock
    let logger: Logger
    /// Rung after each commit: the relay publishes at once instead of at its next poll.
    let outboxBell = Doorbell()
    public let metrics: WorkerMetrics
    let status = Mutex(Status())

    struct Status {
        var brokerConnected = false
        var consuming = false
        var connections = 0
        var consumerLink = BrokerLinkLog()
        var relayLink = BrokerLinkLog()
    }
    let relayId = "relay-\(UUID().uuidString.prefix(8))"

    public init(
        configuration: Configuration, amqp: AMQPConfiguration, store: any DocumentStore, handler: any MessageHandler,
        events: EventFactory, clock: EventClock = .system, logger: Logger
    ) {
        self.configuration = configuration
        self.amqp = amqp
        self.store = store
        self.handler = handler
        self.batchableTypes = handler.batchableTypes
        self.operators = configuration.operators.union([amqp.user])
        self.boundTypes = Topology.boundTypes(
            of: configuration.topology.queues.first { $0.name == configuration.queue })
        self.decidesAheadOfCommit = handler.decidesAheadOfCommit
        self.events = events
        self.clock = clock
        self.logger = logger
        self.metrics = WorkerMetrics(queue: configuration.queue)
    }

    /// Ready when connected to the broker, consuming, and the database answers: what `/health`
    /// reports.
    public func health() async -> HealthReport {
        let (broker, consuming) = status.withLock { ($0.brokerConnected, $0.consuming) }
        let backlog = try? await store.outboxBacklog()
        if let backlog { metrics.outboxBacklog.record(backlog) }
        return HealthReport(
            queue: configuration.queue, broker: broker, consuming: consuming && broker, outboxBacklog: backlog)
    }

    /// The consumer's connection changed: health, the reconnection count, and a log line.
    func consumerConnectionEvent(_ event: AMQPConnectionEvent) {
        let (reconnected, line) = status.withLock { status -> (Bool, BrokerLinkLog.Line) in
            let line = status.consumerLink.record(event)
            switch event {
            case .connected:
                status.brokerConnected = true
                status.connections += 1
                return (status.connections > 1, line)
            case .disconnected:
                status.brokerConnected = false
                return (false, line)
            }
        }
        if reconnected { metrics.reconnects.increment() }
        log(line, link: "consumer")
    }

    /// The relay's connection changed: a log line.
    func relayConnectionEvent(_ event: AMQPConnectionEvent) {
        log(status.withLock { $0.relayLink.record(event) }, link: "relay")
    }

    private func log(_ line: BrokerLinkLog.Line, link: String) {
        switch line {
        case .connected: logger.info("\(line.text(link: link))")
        case .reconnected: logger.notice("\(line.text(link: link))")
        case .lost, .attemptFailed: logger.warning("\(line.text(link: link))")
        }
    }

    public func run() async throws {
        try await store.migrate()
        // What this worker commits goes to its own relay without being read back.
        store.handOffOutbox(to: relayId, lease: configuration.relayLease)
        let publisher = AMQPPublisher(
            configuration: amqp, topology: configuration.topology,
            onConnectionEvent: { [weak self] event in self?.relayConnectionEvent(event) })
        let consumer = AMQPConsumer(
            configuration: amqp, queue: configuration.queue, topology: configuration.topology,
            prefetch: configuration.prefetch, maximumHeldBytes: configuration.maximumHeldBytes,
            consumerTag: "\(configuration.queue)-\(relayId)",
            onConnectionEvent: { [weak self] event in self?.consumerConnectionEvent(event) })
        let relay = OutboxRelay(
            store: store, publisher: publisher, relayId: relayId, configuration: configuration, bell: outboxBell,
            stopping: StopFlag(), metrics: metrics, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await relay.run() }
            // Consume until a graceful shutdown (or cancellation); finish the batch in hand,
            // then stop (what arrived and was not begun goes back to the queue unacknowledged).
            status.withLock { $0.consuming = true }
            await withTaskCancellationOrGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { committing in
                    while let deliveries = await consumer.next(upTo: configuration.batchSize) {
                        let started = ContinuousClock.now
                        // A run committing in the background records its own time when it is done.
                        let handedOn = await process(deliveries, consumer, &committing, taken: started)
                        recordLatency(of: deliveries.count - handedOn, since: started)
                    }
                    await committing.waitForAll()
                }
            } onCancelOrGracefulShutdown: {
                consumer.finishDeliveries()
            }
            status.withLock { $0.consuming = false }
            await consumer.stop()
            relay.stopping.set()
            outboxBell.ring()
            await group.waitForAll()
        }
        await publisher.close()
        logger.info("worker stopped", metadata: ["queue": "\(configuration.queue)"])
    }
}
