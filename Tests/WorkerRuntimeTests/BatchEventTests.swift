import AMQPClient
import BillingDomain
import CovenantMessages
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WorkerRuntime
import WorkerStores

/// Rates usage as rating does in batches: each message adds to its service's month, and the
/// batch's last unit carries one `usage.rated` naming every message of the batch (the unit
/// speaks for the batch). Alone, a message carries its own event.
struct BatchRatedHandler: MessageHandler {
    let events: EventFactory
    var decidesAheadOfCommit = false
    /// For `usage.checkpoint`: the store whose totals it notes, and where.
    var checkpoint: Checkpoint?

    final class Checkpoint: Sendable {
        let store: any RatingStore
        let totals = Mutex<[Rational]>([])

        init(_ store: any RatingStore) { self.store = store }
    }

    var batchableTypes: Set<String> { ["usage.record"] }

    func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        if event.type == "usage.checkpoint", let checkpoint {
            let month = CalendarDate(year: 2025, month: 1, day: 1)!
            let total = try await checkpoint.store.usageTotal(
                tenantId: event.tenantId, serviceId: "sim-0", metric: "gb", month: month)
            checkpoint.totals.withLock { $0.append(total) }
            return .commit(UnitOfWork(messageId: nil))
        }
        return alone(event).map { .commit($0) } ?? .reject(Rejection(.invalidMessage, "not usage"))
    }

    /// A message's unit when it is handled alone: its own event.
    func alone(_ event: CloudEvent) -> UnitOfWork? {
        guard var unit = rated(event) else { return nil }
        unit.outbox = [ratedEvent(naming: [event])]
        return unit
    }

    func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        var outcomes = events.map { event -> HandlerOutcome in
            rated(event).map { .commit($0) } ?? .reject(Rejection(.invalidMessage, "not usage"))
        }
        let ratedEvents = events.filter { rated($0) != nil }
        guard let last = outcomes.lastIndex(where: { if case .commit = $0 { true } else { false } }),
            case .commit(var unit) = outcomes[last]
        else { return outcomes }
        unit.outbox = [ratedEvent(naming: ratedEvents)]
        unit.speaksForBatch = ratedEvents.count > 1
        outcomes[last] = .commit(unit)
        return outcomes
    }

    private func rated(_ event: CloudEvent) -> UnitOfWork? {
        guard case .success(.usageRecord(let usage)) = Command.decode(event) else { return nil }
        return UnitOfWork(
            messageId: nil,
            usage: [
                UsageIncrement(
                    tenantId: event.tenantId, serviceId: usage.serviceId, metric: usage.metric,
                    month: usage.date(in: .utc), quantity: usage.quantity)
            ])
    }

    func ratedEvent(naming usage: [CloudEvent]) -> OutboxMessage {
        events.event(
            "usage.rated", tenantId: usage[0].tenantId, causationId: usage[0].id,
            data: .object(["records": .array(usage.map { .object(["usage_id": .string($0.id)]) })]),
            time: usage[0].time)
    }
}

/// A rating store that passes every call to an SQLite store: a test's wrapper implements only
/// the calls it steps in on.
protocol ForwardingRatingStore: RatingStore, DocumentStore {
    var inner: SQLiteWorkerStore { get }
}

extension ForwardingRatingStore {
    var role: StoreRole { inner.role }
    func migrate() async throws { try await inner.migrate() }
    func commit(batch units: [UnitOfWork]) async throws -> [CommitOutcome] { try await inner.commit(batch: units) }
    func commit(together units: [UnitOfWork]) async throws -> CommitOutcome { try await inner.commit(together: units) }
    func handledMessages(among messageIds: [String]) async throws -> Set<String> {
        try await inner.handledMessages(among: messageIds)
    }
    func handOffOutbox(to claimant: String, lease: Duration) { inner.handOffOutbox(to: claimant, lease: lease) }
    func claimOutbox(limit: Int, claimant: String, lease: Duration) async throws -> [OutboxRecord] {
        try await inner.claimOutbox(limit: limit, claimant: claimant, lease: lease)
    }
    func releaseOutboxClaims(of claimant: String) async throws -> Int {
        try await inner.releaseOutboxClaims(of: claimant)
    }
    func markSent(ids: [Int64]) async throws { try await inner.markSent(ids: ids) }
    func outboxBacklog() async throws -> Int { try await inner.outboxBacklog() }
    func close() async throws { try await inner.close() }
    func usageTotals(of keys: [UsageMonthKey]) async throws -> [UsageMonthKey: Rational] {
        try await inner.usageTotals(of: keys)
    }
    func documents(kind: String, keys: [String]) async throws -> [String: StoredDocument] {
        try await inner.documents(kind: kind, keys: keys)
    }
    func documents(kind: String, keyPrefix: String, after: String?, limit: Int) async throws -> [StoredDocument] {
        try await inner.documents(kind: kind, keyPrefix: keyPrefix, after: after, limit: limit)
    }
}

/// The records an integrator's `usage.rated` events of `tenant` name, counted by usage id as
/// they arrive.
final class NamedUsage: Sendable {
    final class Counts: Sendable {
        let byId = Mutex<[String: Int]>([:])
    }

    private let named: Counts
    private let collecting: Task<Void, Never>

    init(_ integrator: AMQPConsumer, tenant: String) {
        let named = Counts()
        self.named = named
        collecting = Task {
            for await delivery in integrator.deliveries {
                integrator.acknowledge(delivery)
                guard let event = CloudEvent.decode(delivery.message.body).success, event.tenantId == tenant,
                    case .array(let records)? = event.data["records"]
                else { continue }
                named.byId.withLock { named in
                    for case .string(let id)? in records.map({ $0["usage_id"] }) { named[id, default: 0] += 1 }
                }
            }
        }
    }

    /// How many times each usage id was named so far.
    var counts: [String: Int] { named.byId.withLock { $0 } }
    var total: Int { counts.values.reduce(0, +) }

    func stop() { collecting.cancel() }
}

/// A store shared with another replica that, once, commits one message of a batch between the
/// worker's read of the inbox and its commit: the race two replicas run when both hold a
/// delivery of the same message (a redelivery after a lost connection).
final class RacingStore: ForwardingRatingStore {
    let inner: SQLiteWorkerStore
    /// What the other replica commits for a message, and the id it raced on once it did.
    let otherReplica: @Sendable (String) -> UnitOfWork
    let raced = Mutex<String?>(nil)

    init(_ inner: SQLiteWorkerStore, otherReplica: @escaping @Sendable (String) -> UnitOfWork) {
        self.inner = inner
        self.otherReplica = otherReplica
    }

    func handledMessages(among messageIds: [String]) async throws -> Set<String> {
        let handled = try await inner.handledMessages(among: messageIds)
        let target = raced.withLock { raced -> String? in
            guard raced == nil, messageIds.count >= 3 else { return nil }
            raced = messageIds[1]
            return raced
        }
        if let target { #expect(try await inner.commit(otherReplica(target)) == .committed) }
        return handled
    }

}

extension WorkerRuntimeTests {
    @Test(
        "A batch whose event speaks for it lands whole: a message another replica committed meanwhile is named once")
    func batchEventRace() async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-batch")
        let topology = Topology.workerQueue(queue, commands: [routingKey], events: [])
        let events = EventFactory(source: "covenant/test-batch")
        let handler = BatchRatedHandler(events: events)
        let sent = (0..<60).map { index in
            usage("\(tenant)-u-\(index)", tenant: tenant, service: "sim-\(index % 4)", quantity: "0.5")
        }
        let byId = Dictionary(
            uniqueKeysWithValues: sent.map { message in
                (message.messageId ?? "", try! CloudEvent.decode(message.body).get())
            })
        let store = RacingStore(
            try SQLiteWorkerStore(
                directory: NSTemporaryDirectory() + "covenant-batch-\(UUID().uuidString)", role: .rating),
            otherReplica: { id in
                var unit = byId[id].flatMap(handler.alone) ?? UnitOfWork(messageId: nil)
                unit.messageId = id
                return unit
            })

        let integrator = integrator(configuration, of: ["usage.rated"])
        let named = NamedUsage(integrator, tenant: tenant)
        // The integrator's queue is bound before anything is rated.
        try await Task.sleep(for: .milliseconds(300))

        // The messages wait in the queue before the worker starts, so it takes them in batches.
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        _ = try await publisher.publish(
            sent.map { OutgoingMessage($0, exchange: Topology.commandsExchange, routingKey: routingKey) })
        let worker = Worker(
            configuration: Self.settings(queue, topology), amqp: configuration, store: store,
            handler: handler, events: events, logger: Logger(label: "test-batch-worker"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }

        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, named.total < sent.count {
            try await Task.sleep(for: .milliseconds(50))
        }
        // Anything named twice would arrive right behind the rest.
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.raced.withLock { $0 } != nil, "no batch of three or more was read from the inbox")
        let counts = named.counts
        #expect(counts.count == sent.count)
        #expect(counts.values.allSatisfy { $0 == 1 }, "named more than once: \(counts.filter { $0.value > 1 })")
        let month = CalendarDate(year: 2025, month: 1, day: 1)!
        for service in 0..<4 {
            // 15 records of 0.5 each.
            #expect(
                try await store.inner.usageTotal(
                    tenantId: tenant, serviceId: "sim-\(service)", metric: "gb", month: month)
                    == Rational(decimal: "7.5"))
        }

        await group.triggerGracefulShutdown()
        try await running.value
        await integrator.stop()
        named.stop()
        await publisher.close()
    }

}
