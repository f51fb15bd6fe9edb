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
    /// Publishes `messages` to a rating worker with `settings` and returns the `command.rejected`
    /// of each, by command id, once `count` came: their code and their message. They are told
    /// apart by the command id beginning with `tenant` (a body too large to read names no tenant).
    func rejections(
        of messages: [OutgoingMessage], tenant: String, settings: Worker.Configuration, count: Int
    ) async throws -> [String: (code: String, message: String, time: String)] {
        let configuration = try amqp()
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-worker-\(UUID().uuidString)", role: .rating)
        let events = EventFactory(source: "covenant/test-forged")
        let worker = Worker(
            configuration: settings, amqp: configuration, store: store, handler: UsageTotalsHandler(events: events),
            events: events, clock: Self.clock, logger: Logger(label: "test-forged"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }
        let integrator = integrator(configuration, of: ["command.rejected"])
        let rejected = Mutex<[String: (code: String, message: String, time: String)]>([:])
        let collecting = Task {
            for await delivery in integrator.deliveries {
                integrator.acknowledge(delivery)
                guard let event = CloudEvent.decode(delivery.message.body).success,
                    case .string(let id) = event.data["command_id"], id.hasPrefix(tenant),
                    case .string(let code) = event.data["code"], case .string(let message) = event.data["message"]
                else { continue }
                rejected.withLock { $0[id] = (code, message, event.time) }
            }
        }
        let publisher = AMQPPublisher(configuration: configuration, topology: settings.topology)
        _ = try await publisher.publish(messages)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, rejected.withLock({ $0.count }) < count {
            try await Task.sleep(for: .milliseconds(50))
        }
        await group.triggerGracefulShutdown()
        try await running.value
        await integrator.stop()
        collecting.cancel()
        await publisher.close()
        return rejected.withLock { $0 }
    }

    @Test(
        "A message whose type is not its routing key is invalid_message and reaches no handler; its own type goes through"
    )
    func forgedType() async throws {
        let (tenant, queue, routingKey) = Self.isolated("test-forged")
        let topology = Topology.workerQueue(queue, commands: [routingKey])
        func message(_ id: String, type: String) -> OutgoingMessage {
            let event = CloudEvent(
                id: id, source: "tests", type: type, time: "2025-01-15T09:30:00Z", tenantId: tenant,
                data: .object(["invoice_id": .string("INV-forged"), "total": .string("1.00")]))
            return OutgoingMessage(
                AMQPMessage(body: event.encoded(), messageId: id, contentType: CloudEvent.contentType, type: type),
                exchange: Topology.commandsExchange, routingKey: routingKey)
        }
        // An event's type on a command's routing key; and the routing key's own type, which the
        // handler (a rater) then refuses as a type it does not take: it got that far. The check
        // on, as in every worker process: this queue's routing key is the type it takes.
        let rejected = try await rejections(
            of: [message("\(tenant)-forged", type: "invoice.ready"), message("\(tenant)-own", type: routingKey)],
            tenant: tenant, settings: Worker.Configuration(queue: queue, topology: topology), count: 2)
        #expect(
            rejected.mapValues(\.code) == ["\(tenant)-forged": "invalid_message", "\(tenant)-own": "unknown_type"])
        // Stamped by the clock the worker was given, not by one of its own.
        #expect(rejected.values.map(\.time) == ["2030-03-17T17:46:40Z", "2030-03-17T17:46:40Z"])
    }

    /// A fixed clock: 1,900,000,000 s after the epoch.
    static let clock = EventClock { Date(timeIntervalSince1970: 1_900_000_000) }

    @Test(
        "Covenant's own headers from a publisher change nothing: a command saying it came from the events exchange is still held to 1 MiB"
    )
    func forgedHeaders() async throws {
        let (tenant, queue, routingKey) = Self.isolated("test-headers")
        let topology = Topology.workerQueue(queue, commands: [routingKey])
        // 1.5 MiB of usage: over a command's 1 MiB, under an event's 16 MiB.
        var large = usage("\(tenant)-large", tenant: tenant, service: "sim-1", quantity: "1")
        large.body += [UInt8](repeating: 0x20, count: 3 << 19)
        large.headers = [
            "x-covenant-original-exchange": .string(Topology.eventsExchange),
            "x-covenant-original-routing-key": .string(routingKey), "x-covenant-retries": .string("99"),
        ]
        let rejected = try await rejections(
            of: [OutgoingMessage(large, exchange: Topology.commandsExchange, routingKey: routingKey)],
            tenant: tenant, settings: Self.settings(queue, topology), count: 1)
        #expect(rejected["\(tenant)-large"]?.message.contains("larger than 1 MiB") == true)
    }
}
