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

/// Takes events that carry records in batches and notes how many records each batch held.
final class RecordCountingHandler: MessageHandler {
    let batches = Mutex<[Int]>([])

    var batchableTypes: Set<String> { ["usage.rated"] }

    func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        batches.withLock { $0.append(-event.recordCount) }  // negative: taken alone
        return .commit(UnitOfWork(messageId: nil))
    }

    func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        batches.withLock { $0.append(events.reduce(0) { $0 + $1.recordCount }) }
        return events.map { _ in .commit(UnitOfWork(messageId: nil)) }
    }
}

extension WorkerRuntimeTests {
    @Test("A batch holds at most the batch size in records: events that carry many are batched by their records")
    func batchesByRecords() async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-records")
        let topology = Topology.workerQueue(queue, commands: [], events: [routingKey])
        // 100 and the first 200 cannot share a batch with what follows them: each is a batch alone.
        let sizes = [100, 200, 200, 1]
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        _ = try await publisher.publish(
            sizes.enumerated().map { index, size in
                let event = CloudEvent(
                    id: "\(tenant)-\(index)", source: "tests", type: "usage.rated", time: "2025-01-15T09:30:00Z",
                    tenantId: tenant,
                    data: .object([
                        "records": .array((0..<size).map { .object(["usage_id": .string("\(index)-\($0)")]) })
                    ]))
                return OutgoingMessage(
                    AMQPMessage(
                        body: event.encoded(), messageId: event.id, contentType: CloudEvent.contentType,
                        type: event.type),
                    exchange: Topology.eventsExchange, routingKey: "\(tenant).\(routingKey)")
            })
        let handler = RecordCountingHandler()
        var workerConfiguration = Self.settings(queue, topology)
        workerConfiguration.batchSize = 250
        let worker = Worker(
            configuration: workerConfiguration, amqp: configuration,
            store: try SQLiteWorkerStore(
                directory: NSTemporaryDirectory() + "covenant-records-\(UUID().uuidString)", role: .invoicing),
            handler: handler, events: EventFactory(source: "covenant/test-records"),
            logger: Logger(label: "test-records-worker"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline,
            handler.batches.withLock({ $0.map(abs).reduce(0, +) }) < sizes.reduce(0, +)
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        await group.triggerGracefulShutdown()
        try await running.value
        await publisher.close()
        // Deliveries arrive in order; however the consumer hands them over, no batch passes 250
        // records, and an event of many records alone is still decided as a batch.
        let batches = handler.batches.withLock { $0 }
        #expect(batches.map(abs).reduce(0, +) == sizes.reduce(0, +), "\(batches)")
        #expect(batches.allSatisfy { $0 <= 250 }, "\(batches)")
        #expect(batches.filter { $0 < -1 }.isEmpty, "events of many records taken alone: \(batches)")
    }
}
