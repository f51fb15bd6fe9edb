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
        /// Relay: rows per claim and how long a claim lasts.
        public var relayBatch = 500
        public var relayLease: Duration = .seconds(30)

        public init(queue: String, topology: AMQPTopology) {
            self.queue = queue
            self.topology = topology
        }
    }

    let configuration: Configuration
    private let amqp: AMQPConfiguration
    let store: any MessageStore
    private let handler: any MessageHandler
    /// The handler's, asked once: a handler builds the set each time it is asked.
    private let batchableTypes: Set<String>
    private let decidesAheadOfCommit: Bool
    private let events: EventFactory
    let logger: Logger
    /// Rung after each commit: the relay publishes at once instead of at its next poll.
    let outboxBell = Doorbell()
    public let metrics: WorkerMetrics
    private let status = Mutex(Status())

    struct Status {
        var brokerConnected = false
        var consuming = false
        var connections = 0
    }
    private let relayId = "relay-\(UUID().uuidString.prefix(8))"

    public init(
        configuration: Configuration, amqp: AMQPConfiguration, store: any MessageStore, handler: any MessageHandler,
        events: EventFactory, logger: Logger
    ) {
        self.configuration = configuration
        self.amqp = amqp
        self.store = store
        self.handler = handler
        self.batchableTypes = handler.batchableTypes
        self.decidesAheadOfCommit = handler.decidesAheadOfCommit
        self.events = events
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

    private func connectionEvent(_ event: AMQPConnectionEvent) {
        let reconnected = status.withLock { status -> Bool in
            switch event {
            case .connected:
                status.brokerConnected = true
                status.connections += 1
                return status.connections > 1
            case .disconnected:
                status.brokerConnected = false
                return false
            }
        }
        if reconnected { metrics.reconnects.increment() }
    }

    public func run() async throws {
        try await store.migrate()
        // What this worker commits goes to its own relay without being read back.
        store.handOffOutbox(to: relayId, lease: configuration.relayLease)
        let publisher = AMQPPublisher(configuration: amqp, topology: configuration.topology)
        let consumer = AMQPConsumer(
            configuration: amqp, queue: configuration.queue, topology: configuration.topology,
            prefetch: configuration.prefetch, consumerTag: "\(configuration.queue)-\(relayId)",
            onConnectionEvent: { [weak self] event in self?.connectionEvent(event) })
        let relayStop = StopFlag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.relay(publisher, stopping: relayStop) }
            // Consume until a graceful shutdown (or cancellation); finish the batch in hand,
            // then stop (what arrived and was not begun goes back to the queue unacknowledged).
            status.withLock { $0.consuming = true }
            await withTaskCancellationOrGracefulShutdownHandler {
                var committing = Committing()
                while let deliveries = await consumer.next(upTo: configuration.batchSize) {
                    let started = ContinuousClock.now
                    // A run committing in the background records its own time when it is done.
                    let handedOn = await process(deliveries, consumer, &committing, taken: started)
                    recordLatency(of: deliveries.count - handedOn, since: started)
                }
                await committing.finish()
            } onCancelOrGracefulShutdown: {
                consumer.finishDeliveries()
            }
            status.withLock { $0.consuming = false }
            await consumer.stop()
            relayStop.set()
            outboxBell.ring()
            await group.waitForAll()
        }
        await publisher.close()
        logger.info("worker stopped", metadata: ["queue": "\(configuration.queue)"])
    }

    // MARK: Consuming

    /// One log line per invoice a message issued, with its invoice and customer ids.
    /// One structured line per invoice a unit issued, from the unit's invoices (not by reading
    /// its events back: that had cost invoicing 8 % of its time in a billing run).
    private func logIssued(_ unit: UnitOfWork, _ metadata: @autoclosure () -> Logger.Metadata) {
        guard !unit.invoices.isEmpty else { return }
        let metadata = metadata()
        for invoice in unit.invoices {
            logger.info(
                "invoice issued",
                metadata: metadata.merging([
                    "invoice.id": "\(invoice.invoiceId)", "customer.id": "\(invoice.customerId)",
                    "total": "\(invoice.total.exactDecimalText ?? invoice.total.description) \(invoice.currency)",
                ]) {
                    $1
                })
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// Deliveries in order: runs of consecutive batchable messages together, the rest one by one.
    /// A run holds at most `batchSize` items: messages, or the records of an event that
    /// carries many (`usage.rated`), so that a batch of such events reads and writes no more
    /// customers' documents than a batch of single messages. For a handler that
    /// ``MessageHandler/decidesAheadOfCommit``, a run is decided while the run before it
    /// commits; anything else waits for that commit first.
    /// Returns how many of the deliveries went on to commit in the background.
    private func process(
        _ deliveries: [AMQPDelivery], _ consumer: AMQPConsumer, _ committing: inout Committing,
        taken: ContinuousClock.Instant
    ) async -> Int {
        var run: [Accepted] = []
        var items = 0
        var handedOn = 0
        for delivery in deliveries {
            if delivery.redelivered { metrics.redelivered.increment() }
            let decoded = readEnvelope(delivery)
            if case .success(let event) = decoded, batchableTypes.contains(event.type) {
                let size = max(1, event.recordCount)
                if items + size > configuration.batchSize {
                    handedOn += await process(run, consumer, &committing, taken: taken)
                    run = []
                    items = 0
                }
                run.append(Accepted(delivery: delivery, event: event))
                items += size
                continue
            }
            handedOn += await process(run, consumer, &committing, taken: taken)
            run = []
            items = 0
            await committing.finish()
            await process(delivery, decoded, consumer)
        }
        return handedOn + (await process(run, consumer, &committing, taken: taken))
    }

    /// A run decided, then settled: committed and acknowledged in the background when the
    /// handler decides ahead of commits (after the run before it has settled), else here.
    /// Returns the number of messages left committing in the background.
    private func process(
        _ run: [Accepted], _ consumer: AMQPConsumer, _ committing: inout Committing, taken: ContinuousClock.Instant
    ) async -> Int {
        guard !run.isEmpty else { return 0 }
        if !decidesAheadOfCommit { await committing.finish() }
        let decision = await decide(run)
        guard decidesAheadOfCommit, case .decided = decision else {
            await committing.finish()
            await settle(decision, consumer)
            return 0
        }
        await committing.finish()
        committing.task = Task {
            await self.settle(decision, consumer)
            self.recordLatency(of: run.count, since: taken)
        }
        // Stopping already: the run still commits, but its retries of faults give up at once.
        if Task.isCancelled { committing.task?.cancel() }
        return run.count
    }

    /// The run settling in the background, if any: at most one, so commits and their
    /// acknowledgements keep the order of the deliveries.
    struct Committing {
        var task: Task<Void, Never>?

        /// Waits for the run to settle. Cancelled (the worker's task is), it cancels the run's
        /// task too, as its work would have been were it done in line: a message whose retry
        /// of a fault is cut short stays unacknowledged and returns to the queue.
        mutating func finish() async {
            guard let task else { return }
            await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
            self.task = nil
        }
    }

    /// The handling time of messages taken from the consumer at `since`, each.
    private func recordLatency(of count: Int, since: ContinuousClock.Instant) {
        let elapsed = Self.nanoseconds(ContinuousClock.now - since)
        for _ in 0..<count { metrics.latency.recordNanoseconds(elapsed) }
    }

    /// A delivery whose envelope was accepted: a reference, since a batch passes its items
    /// through several arrays (copying the delivery and the event retained each of their parts).
    final class Accepted: Sendable {
        let delivery: AMQPDelivery
        let event: CloudEvent

        init(delivery: AMQPDelivery, event: CloudEvent) {
            self.delivery = delivery
            self.event = event
        }
    }

    private func metadata(_ delivery: AMQPDelivery, _ event: CloudEvent?) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "message.id": "\(delivery.message.messageId ?? "-")", "routing.key": "\(delivery.routingKey)",
        ]
        if let event {
            metadata["tenant.id"] = "\(event.tenantId)"
            if case .string(let customer) = event.data["customer_id"] { metadata["customer.id"] = "\(customer)" }
        }
        return metadata
    }

    /// A run of batchable messages decided: the inbox read once, the handler deciding them
    /// together. What is left to do is ``settle(_:_:)``'s.
    enum RunDecision: Sendable {
        /// Messages to handle one by one: a run of one, or a run whose reads failed.
        case oneByOne([Accepted])
        case decided(DecidedRun)
    }

    struct DecidedRun: Sendable {
        /// The run's messages, each once, and those seen twice in it (a redelivery: handled
        /// one by one after the run).
        let fresh: [Accepted]
        let repeated: [Accepted]
        /// Among `fresh`, the ones the inbox already held, and the rest with their outcomes.
        let handled: Set<String>
        let pending: [Accepted]
        let outcomes: [HandlerOutcome]
        /// One per outcome but those in `requeue` (to wait with no retry queue to wait in).
        let units: [UnitOfWork]
        let requeue: Set<String>
    }

    private func decide(_ run: [Accepted]) async -> RunDecision {
        // One message alone goes one by one, unless it carries many records: this path reads
        // their customers' documents at once.
        guard run.count > 1 || run.contains(where: { $0.event.recordCount > 1 }) else { return .oneByOne(run) }
        // The same message twice in one batch (a redelivery): the second waits for the first.
        var seen = Set<String>()
        let (fresh, repeated) = run.reduce(into: ([Accepted](), [Accepted]())) { split, item in
            if seen.insert(item.event.id).inserted { split.0.append(item) } else { split.1.append(item) }
        }
        do {
            let handled = try await store.handledMessages(among: fresh.map(\.event.id))
            let pending = fresh.filter { !handled.contains($0.event.id) }
            let decided = try await handler.handle(batch: pending.map(\.event))
            guard decided.count == pending.count else {
                throw StoreError("the handler decided \(decided.count) of \(pending.count) messages")
            }
            let outcomes = zip(decided, pending).map { settled($0, $1.delivery) }
            var units: [UnitOfWork] = []
            var requeue: Set<String> = []
            for (item, outcome) in zip(pending, outcomes) {
                switch outcome {
                case .commit(var unit):
                    unit.messageId = item.event.id
                    units.append(unit)
                case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                    units.append(
                        rejectionUnit(
                            item.delivery, commandId: item.event.id, commandType: item.event.type,
                            tenantId: item.event.tenantId, rejection: rejection))
                case .retryLater(let reason, let delay):
                    if let unit = parkingUnit(
                        item.delivery, reason: reason, after: delay, metadata: metadata(item.delivery, item.event))
                    {
                        units.append(unit)
                    } else {
                        requeue.insert(item.event.id)
                    }
                }
            }
            return .decided(
                DecidedRun(
                    fresh: fresh, repeated: repeated, handled: handled, pending: pending, outcomes: outcomes,
                    units: units, requeue: requeue))
        } catch {
            metrics.faults.increment()
            logger.warning(
                "deciding a batch failed; handling its messages one by one",
                metadata: ["error": "\(loggableDescription(of: error))", "messages": "\(run.count)"])
            return .oneByOne(fresh + repeated)
        }
    }

    /// A decided run committed in one transaction (a savepoint per message, or all together),
    /// then acknowledged. A fault or a version conflict sends the messages concerned down the
    /// one-by-one path, which retries.
    private func settle(_ decision: RunDecision, _ consumer: AMQPConsumer) async {
        switch decision {
        case .oneByOne(let items):
            for item in items { await process(item.delivery, .success(item.event), consumer) }
        case .decided(let run):
            await settle(run, consumer)
        }
    }

    /// Commits a decided run, acknowledges what landed, and handles the rest one by one.
    private func settle(_ run: DecidedRun, _ consumer: AMQPConsumer) async {
        var retry: [Accepted] = []
        do {
            // A batch that did not land all together goes one by one (and each message sees the
            // repeat, or what another replica wrote).
            let committed = try await store.commit(decided: run.units)
            outboxBell.ring()
            var unitIndex = 0
            for (item, outcome) in zip(run.pending, run.outcomes) {
                if run.requeue.contains(item.event.id) {
                    consumer.requeue(item.delivery)
                    continue
                }
                let result = committed[unitIndex]
                unitIndex += 1
                switch (outcome, result) {
                case (_, .versionConflict):
                    retry.append(item)
                case (.commit(let unit), _):
                    consumer.acknowledge(item.delivery)
                    metrics.handled.increment()
                    logIssued(unit, metadata(item.delivery, item.event))
                case (.reject(let rejection), _), (.rejectUnlessItArrives(let rejection, _, _), _):
                    logRejection(item.event.id, rejection)
                    consumer.acknowledge(item.delivery)
                case (.retryLater, _):
                    metrics.deferred.increment()
                    consumer.acknowledge(item.delivery)
                }
            }
            for item in run.fresh where run.handled.contains(item.event.id) {
                consumer.acknowledge(item.delivery)
                metrics.handled.increment()
            }
        } catch {
            metrics.faults.increment()
            logger.warning(
                "committing a batch failed; handling its messages one by one",
                metadata: ["error": "\(loggableDescription(of: error))", "messages": "\(run.fresh.count)"])
            retry = run.fresh
        }
        for item in retry + run.repeated { await process(item.delivery, .success(item.event), consumer) }
    }

    private func process(
        _ delivery: AMQPDelivery, _ decoded: Result<CloudEvent, Rejection>, _ consumer: AMQPConsumer
    ) async {
        let messageId = delivery.message.messageId
        guard case .success(let event) = decoded else {
            if case .failure(let rejection) = decoded {
                await reject(
                    delivery, consumer,
                    commandId: messageId.flatMap { $0.isEmpty ? nil : $0 }
                        ?? Self.anonymousCommandId(of: delivery.message.body),
                    commandType: delivery.message.type ?? delivery.routingKey,
                    tenantId: Self.bestEffortTenant(delivery.message.body), rejection: rejection)
            }
            return
        }
        let metadata = metadata(delivery, event)
        var attempt = 0
        while true {
            attempt += 1
            do {
                if try await store.hasHandled(messageId: event.id) {
                    consumer.acknowledge(delivery)
                    metrics.handled.increment()
                    return
                }
                switch settled(try await handler.handle(event), delivery) {
                case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                    await reject(
                        delivery, consumer, commandId: event.id, commandType: event.type, tenantId: event.tenantId,
                        rejection: rejection)
                    return
                case .retryLater(let reason, let delay):
                    try await park(delivery, consumer, reason: reason, after: delay, metadata: metadata)
                    metrics.deferred.increment()
                    return
                case .commit(var unit):
                    unit.messageId = event.id
                    switch try await store.commit(unit) {
                    case .committed, .alreadyHandled:
                        consumer.acknowledge(delivery)
                        outboxBell.ring()
                        metrics.handled.increment()
                        logIssued(unit, metadata)
                        return
                    case .versionConflict(let kind, let key):
                        // Another replica changed the entity first: decide again on fresh state.
                        guard attempt < configuration.conflictRetries else {
                            logger.warning("version conflicts persist; requeueing", metadata: metadata)
                            consumer.requeue(delivery)
                            return
                        }
                        logger.debug("version conflict on \(kind) \(key); retrying", metadata: metadata)
                    }
                }
            } catch {
                // A fault, not bad input. One the store can still record is this message's own:
                // it waits in the retry queue, counted, and is set aside after a few (the queue
                // goes on meanwhile). One it cannot record (the database is away) is retried here.
                metrics.faults.increment()
                if await setAside(delivery, event, consumer, after: error, metadata: metadata) { return }
                let delay = backoff(attempt)
                logger.warning(
                    "handling failed; retrying in \(delay)",
                    metadata: metadata.merging(["error": "\(loggableDescription(of: error))"]) { $1 })
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    // Shutting down: leave the message unacknowledged; it returns to the queue.
                    return
                }
            }
        }
    }

    /// A bounded wait counted against the delivery's waits so far: one more wait while it has
    /// some left (and the role has a retry queue to wait in), else its rejection.
    private func settled(_ outcome: HandlerOutcome, _ delivery: AMQPDelivery) -> HandlerOutcome {
        guard case .rejectUnlessItArrives(let rejection, let attempts, let delay) = outcome else { return outcome }
        guard Self.retries(of: delivery) < attempts, retryQueue(for: delay) != nil else { return .reject(rejection) }
        return .retryLater("\(rejection.message) (yet)", after: delay)
    }

    /// Sends a copy of the delivery to the role's retry queue (through the outbox, so it cannot
    /// be lost) and acknowledges the original; the broker brings the copy back after the delay.
    private func park(
        _ delivery: AMQPDelivery, _ consumer: AMQPConsumer, reason: String, after delay: Duration,
        metadata: Logger.Metadata
    ) async throws {
        guard let unit = parkingUnit(delivery, reason: reason, after: delay, metadata: metadata) else {
            // No retry queue declared: back to this queue, behind what is waiting.
            consumer.requeue(delivery)
            return
        }
        _ = try await store.commit(unit)
        consumer.acknowledge(delivery)
        outboxBell.ring()
    }

    /// The copy of a delivery bound for the role's retry queue, as a unit of work; nil when
    /// the role has no retry queue.
    /// With `faults`, the copy waits after a fault (counted in its own header, not against the
    /// waits ``HandlerOutcome/rejectUnlessItArrives(_:attempts:after:)`` allows).
    func parkingUnit(
        _ delivery: AMQPDelivery, reason: String, after delay: Duration, metadata: Logger.Metadata,
        faults: Int? = nil
    ) -> UnitOfWork? {
        guard let retryQueue = retryQueue(for: delay) else { return nil }
        let retries = Self.retries(of: delivery)
        let level: Logger.Level = retries > 0 && retries % 100 == 0 ? .warning : .debug
        if faults == nil {
            logger.log(level: level, "waiting: \(reason)", metadata: metadata.merging(["retries": "\(retries)"]) { $1 })
        }
        var headers = [Self.retriesHeader: String(faults == nil ? retries + 1 : retries)]
        if let faults { headers[FaultPolicy.faultsHeader] = String(faults) }
        for (name, value) in delivery.message.headers where name.hasPrefix("x-covenant-original-") {
            if let text = value.stringValue { headers[name] = text }
        }
        let (exchange, routingKey) = Self.origin(of: delivery)
        headers["x-covenant-original-exchange"] = exchange
        headers["x-covenant-original-routing-key"] = routingKey
        let copy = OutboxMessage(
            exchange: "", routingKey: retryQueue,
            messageId: delivery.message.messageId ?? "", type: delivery.message.type?.storableText,
            contentType: delivery.message.contentType ?? CloudEvent.contentType, headers: headers,
            body: delivery.message.body)
        return UnitOfWork(messageId: nil, outbox: [copy])
    }

    static let retriesHeader = "x-covenant-retries"

    /// The largest body taken from the commands exchange.
    public static let maximumCommandBytes = 1 << 20
    /// The largest body taken from the events exchange: RabbitMQ 4's default `max_message_size`.
    public static let maximumEventBytes = 16 << 20

    /// How many times the delivery has waited in a retry queue.
    static func retries(of delivery: AMQPDelivery) -> Int {
        Int(delivery.message.headers[retriesHeader]?.stringValue ?? "") ?? 0
    }

    /// The role's retry queue that waits at least `delay`; nil when it has none.
    func retryQueue(for delay: Duration) -> String? {
        let milliseconds = Int(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
        return configuration.topology.queues.first(where: { $0.name == configuration.queue })?
            .retryQueueName(atLeast: milliseconds)
    }

    /// Where a delivery was first published: a copy back from the retry queue says so in its
    /// headers.
    static func origin(of delivery: AMQPDelivery) -> (exchange: String, routingKey: String) {
        (
            delivery.message.headers["x-covenant-original-exchange"]?.stringValue ?? delivery.exchange,
            delivery.message.headers["x-covenant-original-routing-key"]?.stringValue ?? delivery.routingKey
        )
    }

    private func backoff(_ attempt: Int) -> Duration {
        min(.milliseconds(50) * (1 << min(attempt, 16)), configuration.maximumBackoff)
    }

    /// The envelope of a delivery, checked against the AMQP properties.
    private func readEnvelope(_ delivery: AMQPDelivery) -> Result<CloudEvent, Rejection> {
        guard let messageId = delivery.message.messageId, !messageId.isEmpty else {
            return .failure(Rejection(.invalidMessage, "the message has no message_id"))
        }
        guard delivery.message.contentType == CloudEvent.contentType else {
            return .failure(
                Rejection(
                    .invalidMessage,
                    "content_type must be \(CloudEvent.contentType), not \(delivery.message.contentType ?? "none")"))
        }
        // Commands come from upstream: 1 MiB is plenty. Events come from Covenant's workers, and
        // `billing.run.completed` names every invoice of a run: 100,000 customers make 3.4 MB.
        let limit =
            Self.origin(of: delivery).exchange == Topology.eventsExchange
            ? Self.maximumEventBytes : Self.maximumCommandBytes
        guard delivery.message.body.count <= limit else {
            return .failure(Rejection(.invalidMessage, "the body is larger than \(limit >> 20) MiB"))
        }
        return CloudEvent.decode(delivery.message.body).flatMap { event in
            guard event.id == messageId else {
                return .failure(Rejection(.invalidMessage, "message_id \(messageId) is not the event's id \(event.id)"))
            }
            return .success(event)
        }
    }

    /// Publishes `command.rejected` and a dead letter with the reason in its headers (both
    /// through the outbox), then acknowledges the original. The message id is not put in the
    /// inbox: a rejection changes nothing, so a redelivery or an operator's replay (after the
    /// missing tenant or service was created, say) is judged again on the state of then. The
    /// `command.rejected` event's id derives from the command's, so consumers see a repeat once.
    func reject(
        _ delivery: AMQPDelivery, _ consumer: AMQPConsumer, commandId: String, commandType: String, tenantId: String,
        rejection: Rejection
    ) async {
        logRejection(commandId, rejection)
        let unit = rejectionUnit(
            delivery, commandId: commandId, commandType: commandType, tenantId: tenantId, rejection: rejection)
        var attempt = 0
        while true {
            attempt += 1
            do {
                _ = try await store.commit(unit)
                consumer.acknowledge(delivery)
                outboxBell.ring()
                return
            } catch {
                logger.warning(
                    "recording a rejection failed; retrying", metadata: ["error": "\(loggableDescription(of: error))"])
                do { try await Task.sleep(for: backoff(attempt)) } catch { return }
            }
        }
    }

    private func logRejection(_ commandId: String, _ rejection: Rejection) {
        metrics.rejected(rejection.code.rawValue)
        logger.info(
            "rejected: \(rejection.code.rawValue)",
            metadata: ["message.id": "\(commandId)", "reason": "\(rejection.message)"])
    }

    /// `command.rejected` and the dead letter of a delivery, as a unit of work.
    private func rejectionUnit(
        _ delivery: AMQPDelivery, commandId: String, commandType: String, tenantId: String, rejection: Rejection
    ) -> UnitOfWork {
        // What the delivery says of itself, unvalidated, becomes text the store can hold; and
        // the event must be a valid envelope itself, or a worker subscribed to
        // `command.rejected` (notification) would reject it in turn, and so on without end:
        // its id and causation id in NFC (the data keep the id as sent), a tenant it could name.
        let commandId = commandId.storableText
        let rejected = events.event(
            "command.rejected", tenantId: CloudEvent.tenantIdProblem(tenantId) == nil ? tenantId : "unknown",
            causationId: Identifier.normalized(commandId),
            data: EventPayloads.commandRejected(commandId: commandId, commandType: commandType, rejection),
            time: Self.now())
        let origin = Self.origin(of: delivery)
        var headers = [
            "x-covenant-reason-code": rejection.code.rawValue, "x-covenant-reason": rejection.message,
            "x-covenant-original-exchange": origin.exchange, "x-covenant-original-routing-key": origin.routingKey,
        ]
        // How long it waited first, and the faults it met, for whoever reads the dead letters.
        let retries = Self.retries(of: delivery)
        if retries > 0 { headers[Self.retriesHeader] = String(retries) }
        if let faults = delivery.message.headers[FaultPolicy.faultsHeader]?.stringValue {
            headers[FaultPolicy.faultsHeader] = faults
        }
        let deadLetter = OutboxMessage(
            exchange: Topology.deadExchange, routingKey: configuration.queue, messageId: commandId,
            type: delivery.message.type?.storableText,
            contentType: (delivery.message.contentType ?? "application/octet-stream").storableText,
            headers: headers, body: SecretRedaction.redacted(delivery.message.body))
        return UnitOfWork(messageId: nil, outbox: [rejected, deadLetter])
    }

    /// The id a rejection gives a message that has none: `delivery-` and the start of its
    /// body's SHA-256, the same for every delivery of it. (It was the delivery tag, which every
    /// channel numbers from 1: after a restart two messages could share an id, and their
    /// `command.rejected` events one event id, so integrators kept one of them.)
    static func anonymousCommandId(of body: [UInt8]) -> String {
        "delivery-" + SHA256.hash(data: body).prefix(8).hexDigits
    }

    /// The tenant a body names, when it is JSON enough to say; `unknown` otherwise (every event
    /// needs one).
    static func bestEffortTenant(_ body: [UInt8]) -> String {
        guard body.count <= 1_048_576, case .string(let tenant) = JSONValue.parse(body)?["tenantid"], !tenant.isEmpty
        else { return "unknown" }
        return tenant
    }

    /// The current time as RFC 3339 text, for events.
    public static func now() -> String {
        RFC3339.text(Date())
    }

    // MARK: Relay

    /// Publishes the outbox: claim a batch, publish it with confirms, mark it sent; sleep until
    /// a commit signals or a second passes (rows of other replicas, or of a relay that died).
    private func relay(_ publisher: AMQPPublisher, stopping: StopFlag) async {
        var attempt = 0
        while true {
            do {
                let batch = try await store.claimOutbox(
                    limit: configuration.relayBatch, claimant: relayId, lease: configuration.relayLease)
                if batch.isEmpty {
                    if stopping.isSet {
                        // Rows this relay claimed and did not publish (handed rows it gave up)
                        // go back to the table: published now, not after their lease.
                        if try await store.releaseOutboxClaims(of: relayId) > 0 { continue }
                        return
                    }
                    await outboxBell.wait(upTo: .seconds(1))
                    continue
                }
                let confirmations = try await publisher.publish(
                    batch.map { record in
                        OutgoingMessage(
                            AMQPMessage(
                                body: record.message.body, messageId: record.message.messageId,
                                contentType: record.message.contentType, type: record.message.type,
                                timestamp: UInt64(Date().timeIntervalSince1970),
                                headers: record.message.headers.mapValues(AMQPFieldValue.string)),
                            exchange: record.message.exchange, routingKey: record.message.routingKey)
                    })
                for (record, confirmation) in zip(batch, confirmations) where confirmation != .confirmed {
                    logger.debug(
                        "no queue is bound for \(record.message.routingKey)",
                        metadata: ["message.id": "\(record.message.messageId)"])
                }
                try await store.markSent(ids: batch.map(\.id))
                attempt = 0
            } catch {
                attempt += 1
                logger.warning(
                    "outbox relay failed; retrying", metadata: ["error": "\(loggableDescription(of: error))"])
                if stopping.isSet && attempt > 5 {
                    // Whatever it holds is claimable at once by the next relay, if the store answers.
                    _ = try? await store.releaseOutboxClaims(of: relayId)
                    return
                }
                try? await Task.sleep(for: backoff(attempt))
            }
        }
    }
}

/// A flag set once, read from any task.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Wakes one waiting task, or the next one to wait if none is waiting.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when rung (or at once if rung since the last wait), or after `timeout`.
    func wait(upTo timeout: Duration) async {
        let timer = Task {
            // Cancelled once the wait is over: then it must not ring.
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            ring()
        }
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.rung {
                    state.rung = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        timer.cancel()
    }
}

extension String {
    /// The text with U+0000 replaced by U+FFFD: PostgreSQL's text cannot hold U+0000, and an
    /// outbox row that cannot be written would hold its message forever.
    var storableText: String {
        utf8.contains(0) ? String(unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : Character($0) }) : self
    }
}

extension Sequence<UInt8> {
    /// The bytes as lowercase hex digits, two per byte (digests in ids).
    var hexDigits: String { map { String(format: "%02x", $0) }.joined() }
}
