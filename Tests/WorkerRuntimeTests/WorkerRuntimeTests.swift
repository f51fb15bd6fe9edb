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

/// Tenants whose names start with `late-`: unknown until the test says they arrived.
final class LateTenants: Sendable {
    let arrived = Mutex<Set<String>>([])
    let asked = Mutex<Set<String>>([])
}

/// A small rating handler: `usage.record` adds to the service's month and emits `usage.rated`;
/// the tenant `ghost` never arrives, and a `late-` tenant arrives when the test says so.
struct UsageTotalsHandler: MessageHandler {
    let events: EventFactory
    var late = LateTenants()

    func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        switch Command.decode(event) {
        case .failure(let rejection):
            return .reject(rejection)
        case .success(.usageRecord(let usage)):
            if event.tenantId == "ghost" {
                return .rejectUnlessItArrives(Rejection(.unknownTenant, "no tenant ghost"), attempts: 2)
            }
            if event.tenantId.hasPrefix("late-"), !late.arrived.withLock({ $0.contains(event.tenantId) }) {
                late.asked.withLock { _ = $0.insert(event.tenantId) }
                return .rejectUnlessItArrives(Rejection(.unknownTenant, "no tenant \(event.tenantId) yet"))
            }
            let day = usage.date(in: .utc)
            let rated = events.event(
                "usage.rated", tenantId: event.tenantId, causationId: event.id,
                data: .object(["service_id": .string(usage.serviceId), "month": .string(day.startOfMonth.description)]),
                time: event.time)
            return .commit(
                UnitOfWork(
                    messageId: nil,
                    usage: [
                        UsageIncrement(
                            tenantId: event.tenantId, serviceId: usage.serviceId, metric: usage.metric, month: day,
                            quantity: usage.quantity)
                    ], outbox: [rated]))
        case .success:
            return .reject(Rejection(.unknownType, "this worker rates usage only"))
        }
    }
}

final class Collected: Sendable {
    let items = Mutex<[AMQPDelivery]>([])
    func ids(ofType type: String) -> Set<String> {
        items.withLock { Set($0.filter { $0.message.type == type }.compactMap(\.message.messageId)) }
    }
}

@Suite("Worker runtime against RabbitMQ and SQLite")
struct WorkerRuntimeTests {
    func amqp() throws -> AMQPConfiguration {
        let url = try #require(ProcessInfo.processInfo.environment["AMQP_URL"], "AMQP_URL is not set: run scripts/test")
        return try AMQPConfiguration(url: url, connectionName: "worker-runtime-test", heartbeatSeconds: 5)
    }

    /// A worker's configuration for a queue of `isolated`: its routing key keeps the test apart,
    /// and is not the message type a worker otherwise requires it to be.
    static func settings(_ queue: String, _ topology: AMQPTopology) -> Worker.Configuration {
        var settings = Worker.Configuration(queue: queue, topology: topology)
        settings.typeMustMatchRoutingKey = false
        return settings
    }

    /// A tenant, a worker queue and a routing key of this test's own: its worker sees no other
    /// suite's messages, and they none of its.
    static func isolated(_ name: String) -> (tenant: String, queue: String, routingKey: String) {
        let id = UUID().uuidString.prefix(8)
        return ("t-\(id)", "covenant.\(name).\(id)", "\(name).\(id)")
    }

    /// The first `count` dead letters of `queue`, each acknowledged, as they come.
    func deadLetters(
        _ configuration: AMQPConfiguration, of queue: String, _ topology: AMQPTopology, count: Int
    ) async -> [AMQPDelivery] {
        let dead = AMQPConsumer(configuration: configuration, queue: "\(queue).dead", topology: topology)
        var letters: [AMQPDelivery] = []
        for await letter in dead.deliveries {
            dead.acknowledge(letter)
            letters.append(letter)
            if letters.count == count { break }
        }
        await dead.stop()
        return letters
    }

    /// What an integrator sees: its own queue on the events exchange, bound to `types`.
    func integrator(_ configuration: AMQPConfiguration, of types: [String]) -> AMQPConsumer {
        let queue = "integrator.\(UUID().uuidString.prefix(8))"
        return AMQPConsumer(
            configuration: configuration, queue: queue,
            topology: AMQPTopology(
                exchanges: Topology.exchanges,
                queues: [
                    .init(name: queue, kind: .classic, bindings: types.map { (Topology.eventsExchange, "*.\($0)") })
                ]))
    }

    func usage(_ id: String, tenant: String, service: String, quantity: String) -> AMQPMessage {
        let event = CloudEvent(
            id: id, source: "tests", type: "usage.record", time: "2025-01-15T09:30:00Z", tenantId: tenant,
            data: .object([
                "customer_id": .string("cust-1"), "service_id": .string(service), "metric": .string("gb"),
                "quantity": .string(quantity), "timestamp": .string("2025-01-15T09:30:00Z"),
            ]))
        return AMQPMessage(
            body: event.encoded(), messageId: id, contentType: CloudEvent.contentType, type: "usage.record")
    }

    @Test(
        "Valid usage is counted once however often delivered; bad input is rejected and dead-lettered with its reason")
    func pipeline() async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-rating")
        let topology = Topology.workerQueue(queue, commands: [routingKey], events: [routingKey])
        let directory = NSTemporaryDirectory() + "covenant-worker-\(UUID().uuidString)"
        let store = try SQLiteWorkerStore(directory: directory, role: .rating)
        let late = LateTenants()
        let worker = Worker(
            configuration: Self.settings(queue, topology), amqp: configuration, store: store,
            handler: UsageTotalsHandler(events: EventFactory(source: "covenant/test-rating"), late: late),
            events: EventFactory(source: "covenant/test-rating"), logger: Logger(label: "test-worker"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }

        let lateTenant = "late-\(tenant)"
        let integrator = integrator(configuration, of: ["usage.rated", "command.rejected"])
        let collected = Collected()
        let collecting = Task {
            for await delivery in integrator.deliveries {
                integrator.acknowledge(delivery)
                // Only this test's worker: other suites' workers publish to the same events exchange.
                if let body = CloudEvent.decode(delivery.message.body).success, body.source == "covenant/test-rating",
                    body.tenantId == tenant || body.tenantId == lateTenant || body.tenantId == "ghost"
                        || body.causationId?.hasPrefix(tenant) == true
                {
                    collected.items.withLock { $0.append(delivery) }
                }
            }
        }

        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        var outgoing: [OutgoingMessage] = []
        for index in 0..<200 {
            outgoing.append(
                OutgoingMessage(
                    usage("\(tenant)-u-\(index)", tenant: tenant, service: "sim-\(index % 10)", quantity: "0.5"),
                    exchange: Topology.commandsExchange, routingKey: routingKey))
        }
        // Twenty repeats of messages already sent.
        outgoing += outgoing.prefix(20)
        // Ten bad messages.
        let bad: [(AMQPMessage, String)] = [
            (
                AMQPMessage(
                    body: Array("{not json".utf8), messageId: "\(tenant)-bad-json", contentType: CloudEvent.contentType),
                "invalid_message"
            ),
            (
                AMQPMessage(
                    body: [0xFF, 0x00, 0x13], messageId: "\(tenant)-bad-binary", contentType: CloudEvent.contentType),
                "invalid_message"
            ),
            (usage("\(tenant)-bad-negative", tenant: tenant, service: "sim-1", quantity: "-3"), "invalid_quantity"),
            (usage("\(tenant)-bad-text", tenant: tenant, service: "sim-1", quantity: "ten"), "invalid_quantity"),
            (usage("\(tenant)-bad-tenant", tenant: "ghost", service: "sim-1", quantity: "1"), "unknown_tenant"),
        ]
        var badMessages = bad
        var wrongType = usage("\(tenant)-bad-content-type", tenant: tenant, service: "sim-1", quantity: "1")
        wrongType.contentType = "text/plain"
        badMessages.append((wrongType, "invalid_message"))
        // An envelope id not in NFC, and a tenant with a slash: their command.rejected must be a
        // valid envelope itself (else notification, which takes command.rejected, would reject
        // it in turn, and so on), so the collector below, which decodes it, sees it.
        badMessages.append(
            (usage("\(tenant)-bad-cafe\u{301}", tenant: tenant, service: "sim-1", quantity: "1"), "invalid_message"))
        badMessages.append(
            (usage("\(tenant)-bad-slash", tenant: "\(tenant)/x", service: "sim-1", quantity: "1"), "invalid_message"))
        var mismatched = usage("\(tenant)-bad-id", tenant: tenant, service: "sim-1", quantity: "1")
        mismatched.messageId = "\(tenant)-bad-id-other"
        badMessages.append((mismatched, "invalid_message"))
        // Over 1 MiB: refused as a command, taken as an event (billing.run.completed is that big
        // for 100,000 customers).
        func large(_ id: String) -> AMQPMessage {
            var message = usage(id, tenant: tenant, service: "sim-large", quantity: "1")
            let event = try! CloudEvent.decode(message.body).get()
            message.body = CloudEvent(
                id: event.id, source: event.source, type: event.type, time: event.time, tenantId: event.tenantId,
                data: event.data.adding(["note": .string(String(repeating: "x", count: 1_500_000))])
            ).encoded()
            return message
        }
        badMessages.append((large("\(tenant)-bad-large-command"), "invalid_message"))
        for (message, _) in badMessages {
            outgoing.append(OutgoingMessage(message, exchange: Topology.commandsExchange, routingKey: routingKey))
        }
        outgoing.append(
            OutgoingMessage(
                large("\(tenant)-u-large-event"), exchange: Topology.eventsExchange,
                routingKey: "\(tenant).\(routingKey)")
        )
        _ = try await publisher.publish(outgoing)

        // Usage ahead of its tenant waits in the retry queue, and is rated once the tenant arrives.
        let ahead = usage("\(tenant)-u-ahead", tenant: lateTenant, service: "sim-0", quantity: "2")
        _ = try await publisher.publish([
            OutgoingMessage(ahead, exchange: Topology.commandsExchange, routingKey: routingKey)
        ])
        let asked = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < asked, !late.asked.withLock({ $0.contains(lateTenant) }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        late.arrived.withLock { _ = $0.insert(lateTenant) }

        // Every valid command leads to one usage.rated, every bad one to one command.rejected.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline,
            collected.ids(ofType: "usage.rated").count < 202
                || collected.ids(ofType: "command.rejected").count < badMessages.count
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(late.asked.withLock { $0.contains(lateTenant) })
        #expect(collected.ids(ofType: "usage.rated").count == 202)
        #expect(
            try await store.usageTotal(
                tenantId: lateTenant, serviceId: "sim-0", metric: "gb",
                month: CalendarDate(year: 2025, month: 1, day: 1)!)
                == Rational(2))
        #expect(collected.ids(ofType: "command.rejected").count == badMessages.count)
        let month = CalendarDate(year: 2025, month: 1, day: 1)!
        for service in 0..<10 {
            // 20 usage records of 0.5 each, repeats not counted again.
            #expect(
                try await store.usageTotal(tenantId: tenant, serviceId: "sim-\(service)", metric: "gb", month: month)
                    == Rational(10))
        }

        // Each bad message sits in the dead-letter queue with its reason.
        let dead = AMQPConsumer(configuration: configuration, queue: "\(queue).dead", topology: topology)
        var reasons: [String: String] = [:]
        var waits: [String: String] = [:]
        for await letter in dead.deliveries {
            dead.acknowledge(letter)
            reasons[letter.message.messageId ?? ""] = letter.message.headers["x-covenant-reason-code"]?.stringValue
            waits[letter.message.messageId ?? ""] = letter.message.headers["x-covenant-retries"]?.stringValue
            if reasons.count == badMessages.count { break }
        }
        for (message, code) in badMessages {
            #expect(reasons[message.messageId ?? ""] == code, "\(message.messageId ?? "")")
        }
        // The usage of a tenant that never came waited its two times, and only it waited.
        #expect(waits == ["\(tenant)-bad-tenant": "2"])
        #expect(try await store.outboxBacklog() == 0)

        // A graceful shutdown stops the worker cleanly.
        await group.triggerGracefulShutdown()
        try await running.value
        await dead.stop()
        await integrator.stop()
        collecting.cancel()
        await publisher.close()
    }
}

extension WorkerRuntimeTests {
    @Test(
        "Text PostgreSQL cannot store (U+0000) is rejected and dead-lettered, not retried forever; the queue goes on")
    func nulOnPostgres() async throws {
        let configuration = try amqp()
        let url = try #require(
            ProcessInfo.processInfo.environment["DATABASE_URL"], "DATABASE_URL is not set: run scripts/test")
        let (tenant, queue, routingKey) = Self.isolated("test-nul")
        let topology = Topology.workerQueue(queue, commands: [routingKey], events: [routingKey])
        let store = try PostgresWorkerStore(
            url: url, role: .rating, schemaPrefix: "nul\(UUID().uuidString.prefix(8).lowercased())_",
            logger: Logger(label: "test-store"))
        let pool = Task { await store.run() }
        try await store.migrate()
        let events = EventFactory(source: "covenant/test-rating")
        let worker = Worker(
            configuration: Self.settings(queue, topology), amqp: configuration, store: store,
            handler: UsageTotalsHandler(events: events), events: events, logger: Logger(label: "test-worker"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }

        // A NUL in the data; in the message id (envelope and property); in the type property of
        // a message refused for its content type.
        var inData = usage("\(tenant)-nul-data", tenant: tenant, service: "sim\u{0}1", quantity: "1")
        inData.type = "usage.record"
        let inId = usage("\(tenant)-nul\u{0}id", tenant: tenant, service: "sim-1", quantity: "1")
        var inType = usage("\(tenant)-nul-type", tenant: tenant, service: "sim-1", quantity: "1")
        inType.type = "usage\u{0}record"
        inType.contentType = "text/plain"
        let valid = usage("\(tenant)-valid", tenant: tenant, service: "sim-1", quantity: "1")
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        _ = try await publisher.publish(
            [inData, inId, inType, valid].map {
                OutgoingMessage($0, exchange: Topology.commandsExchange, routingKey: routingKey)
            })

        let dead = AMQPConsumer(configuration: configuration, queue: "\(queue).dead", topology: topology)
        let waiting = Task {
            var reasons: [String: String] = [:]
            for await letter in dead.deliveries {
                dead.acknowledge(letter)
                reasons[letter.message.messageId ?? ""] = letter.message.headers["x-covenant-reason-code"]?.stringValue
                if reasons.count == 3 { break }
            }
            return reasons
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline,
            try await store.usageTotal(
                tenantId: tenant, serviceId: "sim-1", metric: "gb", month: CalendarDate(year: 2025, month: 1, day: 1)!)
                != Rational(1)
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        // The valid message behind them was rated: nothing held the queue.
        #expect(
            try await store.usageTotal(
                tenantId: tenant, serviceId: "sim-1", metric: "gb", month: CalendarDate(year: 2025, month: 1, day: 1)!)
                == Rational(1))
        let timeout = Task {
            try await Task.sleep(for: .seconds(30))
            await dead.stop()
        }
        let letters = await waiting.value
        timeout.cancel()
        #expect(
            letters == [
                "\(tenant)-nul-data": "invalid_message", "\(tenant)-nul\u{FFFD}id": "invalid_message",
                "\(tenant)-nul-type": "invalid_message",
            ])
        await group.triggerGracefulShutdown()
        try await running.value
        await dead.stop()
        await publisher.close()
        try await store.close()
        await pool.value
    }
}

extension Result {
    var success: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}
