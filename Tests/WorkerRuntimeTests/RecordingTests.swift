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

/// A receiver that fails each message's first attempt: every attempt made is an outcome
/// recording it (as notification's deliveries are), the first a wait, the next a commit.
final class FailingOnceReceiver: MessageHandler {
    let attempts = Mutex<[String: Int]>([:])
    var batchableTypes: Set<String> { ["usage.record"] }

    func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        let attempt = attempts.withLock { attempts in
            attempts[event.id, default: 0] += 1
            return attempts[event.id] ?? 0
        }
        let record = DeliveryRecord(
            eventId: event.id, target: "https://hooks.example/", attempt: attempt,
            status: attempt == 1 ? "failed" : "delivered", responseCode: attempt == 1 ? 500 : 204, at: 0)
        guard attempt > 1 else {
            return .retryLater(
                "attempt 1 failed", after: .milliseconds(500),
                recording: UnitOfWork(messageId: nil, deliveries: [record]))
        }
        return .commit(UnitOfWork(messageId: nil, deliveries: [record]))
    }
}

/// A store whose first commit of several units fails, as a database blip would.
final class BlippingStore: ForwardingRatingStore, @unchecked Sendable {
    let inner: SQLiteWorkerStore
    let blipped = Mutex(false)

    init(_ inner: SQLiteWorkerStore) { self.inner = inner }

    func commit(batch units: [UnitOfWork]) async throws -> [CommitOutcome] {
        if units.count > 1,
            blipped.withLock({ blipped in
                defer { blipped = true }
                return !blipped
            })
        {
            throw DatabaseDown()
        }
        return try await inner.commit(batch: units)
    }
}

extension WorkerRuntimeTests {
    @Test("What a waiting message records is kept though its batch's commit failed: every attempt made is logged once")
    func recordingKept() async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-recording")
        let topology = Topology.workerQueue(
            queue, commands: [routingKey], events: [routingKey], retryDelaysMilliseconds: [500])
        let inner = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-worker-\(UUID().uuidString)", role: .notification)
        try await inner.migrate()
        let store = BlippingStore(inner)
        let handler = FailingOnceReceiver()
        var settings = Self.settings(queue, topology)
        settings.prefetch = 10
        let worker = Worker(
            configuration: settings, amqp: configuration, store: store, handler: handler,
            events: EventFactory(source: "covenant/test-recording"), logger: Logger(label: "test-recording"))
        let ids = (0..<4).map { "\(tenant)-e-\($0)" }
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        // Published before the worker starts, so they arrive as one batch.
        _ = try await publisher.publish(
            ids.map {
                OutgoingMessage(
                    usage($0, tenant: tenant, service: "sim-1", quantity: "1"), exchange: Topology.commandsExchange,
                    routingKey: routingKey)
            })
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        func delivered() async throws -> Int {
            var count = 0
            for id in ids where try await inner.deliveries(eventId: id).contains(where: { $0.status == "delivered" }) {
                count += 1
            }
            return count
        }
        while ContinuousClock.now < deadline, try await delivered() < ids.count {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(store.blipped.withLock { $0 })
        // Each attempt the receiver saw is in the log once: the failed batch's attempts too.
        for id in ids {
            let log = try await inner.deliveries(eventId: id)
            let made = handler.attempts.withLock { $0[id] ?? 0 }
            #expect(log.map(\.attempt) == Array(1...max(1, made)), "\(id): \(log.map(\.attempt)) of \(made) attempts")
        }
        await group.triggerGracefulShutdown()
        try await running.value
        await publisher.close()
    }
}
