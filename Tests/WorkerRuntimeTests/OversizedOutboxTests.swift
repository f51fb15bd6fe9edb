import AMQPClient
import CovenantMessages
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WorkerRuntime
import WorkerStores

extension WorkerRuntimeTests {
    @Test(
        "An outbox message the broker cannot take is set aside with a notice in the dead-letter queue; the messages behind it go out"
    )
    func oversizedOutbox() async throws {
        let configuration = try amqp()
        let (_, queue, routingKey) = Self.isolated("test-oversized")
        let topology = Topology.workerQueue(queue, commands: [routingKey])
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-worker-\(UUID().uuidString)", role: .rating)
        try await store.migrate()
        let event = "\(routingKey).done"
        func record(_ id: String, bytes: Int) -> OutboxMessage {
            OutboxMessage(
                exchange: Topology.eventsExchange, routingKey: "t.\(event)", messageId: id, type: event,
                body: [UInt8](repeating: 0x20, count: bytes))
        }
        // Over the broker's max_message_size (16 MiB) but within the relay's limit here (20 MiB),
        // so the broker refuses it; over the relay's limit, so it is never sent; and a small one.
        _ = try await store.commit(
            UnitOfWork(
                messageId: nil,
                outbox: [
                    record("\(queue)-refused", bytes: 17 << 20), record("\(queue)-too-large", bytes: 21 << 20),
                    record("\(queue)-small", bytes: 64),
                ]))
        let integrator = integrator(configuration, of: [event])
        let arrived = Mutex<[String]>([])
        let collecting = Task {
            for await delivery in integrator.deliveries {
                integrator.acknowledge(delivery)
                arrived.withLock { $0.append(delivery.message.messageId ?? "") }
            }
        }
        // The integrator's queue is bound before the worker publishes.
        try await Task.sleep(for: .milliseconds(500))
        var settings = Self.settings(queue, topology)
        settings.maximumMessageBytes = 20 << 20
        let worker = Worker(
            configuration: settings, amqp: configuration, store: store,
            handler: UsageTotalsHandler(events: EventFactory(source: "covenant/test-oversized")),
            events: EventFactory(source: "covenant/test-oversized"), logger: Logger(label: "test-oversized"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }

        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, try await store.outboxBacklog() > 0 || arrived.withLock({ $0.isEmpty }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(arrived.withLock { $0 } == ["\(queue)-small"])
        #expect(try await store.outboxBacklog() == 0)
        var notices: [String: String] = [:]
        for letter in await deadLetters(configuration, of: queue, topology, count: 2) {
            #expect(letter.message.headers["x-covenant-reason-code"]?.stringValue == "message_too_large")
            let bytes = JSONValue.parse(letter.message.body)?["bytes"]
            notices[letter.message.messageId ?? ""] = bytes.flatMap { if case .number(let n) = $0 { n } else { nil } }
        }
        #expect(notices == ["\(queue)-refused": String(17 << 20), "\(queue)-too-large": String(21 << 20)])
        await group.triggerGracefulShutdown()
        try await running.value
        await integrator.stop()
        collecting.cancel()
    }
}
