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

/// A store whose first commit of a batch waits (at most `patience`) until a second batch has
/// been read from the inbox, and notes whether one was: with batches decided only after the
/// commit before them, none can be.
final class GatedStore: ForwardingRatingStore {
    let inner: SQLiteWorkerStore
    let patience: Duration
    /// Once a commit of several units is tried, it and every commit after it fail (the
    /// database went down), counted; the ids of messages committed before are kept.
    let failing: Bool
    let failedCommits = Mutex(0)
    let committed = Mutex<Set<String>>([])
    private let state = Mutex<(gated: Bool, batchReads: Int, overlapped: Bool?)>((false, 0, nil))

    init(_ inner: SQLiteWorkerStore, patience: Duration, failing: Bool = false) {
        self.inner = inner
        self.patience = patience
        self.failing = failing
    }

    /// Whether the second batch was decided before the first one's commit ended; nil before a
    /// batch committed.
    var overlapped: Bool? { state.withLock { $0.overlapped } }

    private func gate(_ units: [UnitOfWork]) async throws {
        if failing {
            let down = failedCommits.withLock { failed in
                if failed > 0 || units.count > 1 { failed += 1 }
                return failed > 0
            }
            if down { throw DatabaseDown() }
            committed.withLock { $0.formUnion(units.compactMap(\.messageId)) }
        }
        let first = state.withLock { state -> Bool in
            guard units.count > 1, !state.gated else { return false }
            state.gated = true
            return true
        }
        guard first else { return }
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline, state.withLock({ $0.batchReads }) < 2 {
            try? await Task.sleep(for: .milliseconds(10))
        }
        state.withLock { $0.overlapped = $0.batchReads >= 2 }
    }

    func commit(batch units: [UnitOfWork]) async throws -> [CommitOutcome] {
        try await gate(units)
        return try await inner.commit(batch: units)
    }
    func commit(together units: [UnitOfWork]) async throws -> CommitOutcome {
        try await gate(units)
        return try await inner.commit(together: units)
    }
    func handledMessages(among messageIds: [String]) async throws -> Set<String> {
        // A batch's read (a message alone reads its own id).
        if messageIds.count > 1 { state.withLock { $0.batchReads += 1 } }
        return try await inner.handledMessages(among: messageIds)
    }
}

extension WorkerRuntimeTests {
    @Test(
        "A handler that decides ahead of commits has the next batch decided while one commits, and only then: each message counts once, and a message that is not batchable sees every batch before it committed",
        arguments: [true, false])
    func decidedAheadOfCommit(ahead: Bool) async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-ahead")
        let topology = Topology.workerQueue(queue, commands: [routingKey], events: [])
        let store = GatedStore(
            try SQLiteWorkerStore(
                directory: NSTemporaryDirectory() + "covenant-ahead-\(UUID().uuidString)", role: .rating),
            patience: .seconds(2))
        let checkpoint = BatchRatedHandler.Checkpoint(store)
        let handler = BatchRatedHandler(
            events: EventFactory(source: "covenant/test-ahead"), decidesAheadOfCommit: ahead, checkpoint: checkpoint)
        let integrator = integrator(configuration, of: ["usage.rated"])
        let named = NamedUsage(integrator, tenant: tenant)
        try await Task.sleep(for: .milliseconds(300))
        // Thirty usage messages in batches of (at most) three, then one the handler takes alone.
        let sent = (0..<30).map { usage("\(tenant)-u-\($0)", tenant: tenant, service: "sim-0", quantity: "1.5") }
        let last = CloudEvent(
            id: "\(tenant)-checkpoint", source: "tests", type: "usage.checkpoint", time: "2025-01-15T09:30:00Z",
            tenantId: tenant, data: .object([:]))
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        _ = try await publisher.publish(
            (sent
                + [
                    AMQPMessage(
                        body: last.encoded(), messageId: last.id, contentType: CloudEvent.contentType,
                        type: last.type)
                ]).map { OutgoingMessage($0, exchange: Topology.commandsExchange, routingKey: routingKey) })
        var workerConfiguration = Self.settings(queue, topology)
        workerConfiguration.batchSize = 3
        let worker = Worker(
            configuration: workerConfiguration, amqp: configuration, store: store, handler: handler,
            events: EventFactory(source: "covenant/test-ahead"), logger: Logger(label: "test-ahead-worker"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, checkpoint.totals.withLock({ $0.isEmpty }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.overlapped == ahead)
        #expect(checkpoint.totals.withLock { $0 } == [Rational(decimal: "45")])
        let counts = named.counts
        #expect(counts.count == sent.count && counts.values.allSatisfy { $0 == 1 }, "\(counts)")
        #expect(
            try await store.inner.usageTotal(
                tenantId: tenant, serviceId: "sim-0", metric: "gb", month: CalendarDate(year: 2025, month: 1, day: 1)!)
                == Rational(decimal: "45"))
        await group.triggerGracefulShutdown()
        try await running.value
        await integrator.stop()
        named.stop()
        await publisher.close()
    }
}

extension WorkerRuntimeTests {
    @Test(
        "A worker cancelled while a batch commits in the background stops: retries of its faults end, and its messages stay unacknowledged"
    )
    func cancelledWhileCommitting() async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-cancel")
        let topology = Topology.workerQueue(queue, commands: [routingKey], events: [])
        let store = GatedStore(
            try SQLiteWorkerStore(
                directory: NSTemporaryDirectory() + "covenant-cancel-\(UUID().uuidString)", role: .rating),
            patience: .zero, failing: true)
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        _ = try await publisher.publish(
            (0..<6).map {
                OutgoingMessage(
                    usage("\(tenant)-u-\($0)", tenant: tenant, service: "sim-0", quantity: "1"),
                    exchange: Topology.commandsExchange, routingKey: routingKey)
            })
        var workerConfiguration = Self.settings(queue, topology)
        workerConfiguration.batchSize = 3
        let worker = Worker(
            configuration: workerConfiguration, amqp: configuration, store: store,
            handler: BatchRatedHandler(
                events: EventFactory(source: "covenant/test-cancel"), decidesAheadOfCommit: true),
            events: EventFactory(source: "covenant/test-cancel"), logger: Logger(label: "test-cancel-worker"))
        let stopped = Mutex(false)
        let running = Task {
            try? await worker.run()
            stopped.withLock { $0 = true }
        }
        // A batch fails to commit (in the background) and its messages are being retried one by one.
        var deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, store.failedCommits.withLock({ $0 }) < 3 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(store.failedCommits.withLock { $0 } >= 3)
        running.cancel()
        deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, !stopped.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(stopped.withLock { $0 }, "the worker did not stop when cancelled")
        // Nothing that failed was acknowledged: it waits in the queue for the next worker.
        let waiting = Set((0..<6).map { "\(tenant)-u-\($0)" }).subtracting(store.committed.withLock { $0 })
        #expect(waiting.count >= 2)
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology)
        var returned: Set<String> = []
        deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, returned.count < waiting.count,
            let batch = await consumer.next(upTo: 6)
        {
            returned.formUnion(batch.compactMap(\.message.messageId))
            for delivery in batch { consumer.acknowledge(delivery) }
        }
        #expect(returned == waiting)
        await consumer.stop()
        await publisher.close()
    }
}

/// The database refusing a commit.
struct DatabaseDown: Error {}
