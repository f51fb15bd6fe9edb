import AMQPClient
import BillingDomain
import CovenantMessages
import Foundation
import RatingWorker
import Synchronization
import WorkerRuntime

/// The broker-side tools of `Benchmarks/run`'s pipeline figures.
///
///     pipeline-benchmark setup URL SERVICES          a tenant and SERVICES PAYG services, as the
///                                                    events rating learns them from
///     pipeline-benchmark preload URL SERVICES COUNT  COUNT usage.record commands (confirmed)
///     pipeline-benchmark copy URL QUEUE COUNT        the same bodies straight into QUEUE
///     pipeline-benchmark relay URL IN OUT            consume IN → publish to OUT (through the events
///                                                    exchange) with confirms → ack
///     pipeline-benchmark drain URL QUEUE BINDING COUNT   consume until COUNT arrived; prints the
///                                                    rate from the first to the last, per second
///     pipeline-benchmark latency URL SERVICES RATE SECONDS   usage.record at RATE per second;
///                                                    prints p50 and p99 to usage.rated, in ms
///     pipeline-benchmark invoices URL COUNT, typeset COUNT PROCESSES: see Documents.swift
///     pipeline-benchmark in-process DIR SERVICES COUNT   rating's work without the broker (a
///                                                    SQLite store in DIR, or PostgreSQL when DIR
///                                                    is a postgres:// URL), µs per event by phase
@main
struct PipelineBenchmark {
    static let tenant = "bench"

    static func main() async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.count >= 2 else { usage() }
        if arguments[0] == "typeset", arguments.count == 3 {
            return print(Int(try await Documents.typeset(count: int(arguments[1]), processes: int(arguments[2]))))
        }
        if arguments[0] == "in-process", arguments.count == 4 {
            return try await InProcess.run(
                directory: arguments[1], services: int(arguments[2]), count: int(arguments[3]))
        }
        let amqp = try AMQPConfiguration(url: arguments[1], connectionName: "pipeline-benchmark")
        switch (arguments[0], arguments.count) {
        case ("setup", 3):
            try await setup(amqp, services: int(arguments[2]))
        case ("preload", 4):
            try await preload(amqp, services: int(arguments[2]), count: int(arguments[3]), queue: nil)
        case ("copy", 4):
            try await preload(amqp, services: 1000, count: int(arguments[3]), queue: arguments[2])
        case ("relay", 4):
            await relay(amqp, from: arguments[2], to: arguments[3])
        case ("drain", 5):
            print(Int(await drain(amqp, queue: arguments[2], binding: arguments[3], count: int(arguments[4]))))
        case ("invoices", 3):
            try await Documents.publish(amqp, count: int(arguments[2]))
        case ("latency", 5):
            let (p50, p99) = try await latency(
                amqp, services: int(arguments[2]), rate: int(arguments[3]), seconds: int(arguments[4]))
            print(String(format: "%.1f %.1f", p50, p99))
        default:
            usage()
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("usage: see Benchmarks/PipelineBenchmark/PipelineBenchmark.swift\n".utf8))
        exit(2)
    }

    static func int(_ text: String) -> Int {
        guard let value = Int(text) else { usage() }
        return value
    }

    static func envelope(_ id: String, _ type: String, _ data: JSONValue) -> AMQPMessage {
        let event = CloudEvent(
            id: id, source: "benchmark", type: type, time: "2025-01-01T00:00:00Z", tenantId: tenant, data: data)
        return AMQPMessage(
            body: event.encoded(), messageId: id, contentType: CloudEvent.contentType, type: type,
            timestamp: UInt64(Date().timeIntervalSince1970))
    }

    static let tenantUpdated = envelope(
        "setup-tenant", "tenant.updated", .object(["name": .string("Bench"), "time_zone": .string("UTC")]))

    /// `sim-n` of customer `cn` activated on 2025-01-01, as provisioning publishes it.
    static func serviceActivated(_ n: Int) -> AMQPMessage {
        let activated = ServiceEvent(
            customerId: "c\(n)", serviceId: "sim-\(n)", revision: 1,
            change: .activated(
                .init(
                    planId: "sim", planName: "SIM", currency: Currency(code: "GBP")!, serviceType: "sim",
                    billingModel: .payg, startDate: CalendarDate(year: 2025, month: 1, day: 1)!)))
        return envelope("setup-sim-\(n)", activated.type, activated.data)
    }

    static func usageRecord(_ index: Int, services: Int, run: String = "u", id: String? = nil) -> AMQPMessage {
        let service = index % services
        // A quantity and a moment that vary, inside January 2025 in UTC.
        let stamp = RFC3339.text(Date(timeIntervalSince1970: 1_735_689_600 + Double(index % 2_592_000)))
        return envelope(
            id ?? "\(run)-\(index)", "usage.record",
            .object([
                "customer_id": .string("c\(service)"), "service_id": .string("sim-\(service)"),
                "metric": .string("mb"), "quantity": .string("\(1 + index % 400).\(index % 10)"),
                "timestamp": .string(stamp),
            ]))
    }

    /// Publishes in calls of 500 with up to 4 calls in flight, each returning once confirmed.
    static func publishAll(_ amqp: AMQPConfiguration, _ messages: [OutgoingMessage]) async throws {
        let publisher = AMQPPublisher(configuration: amqp, topology: AMQPTopology(exchanges: Topology.exchanges))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (call, first) in stride(from: 0, to: messages.count, by: 500).enumerated() {
                if call >= 4 { try await group.next() }
                let slice = Array(messages[first..<min(first + 500, messages.count)])
                group.addTask {
                    for confirmation in try await publisher.publish(slice) where confirmation != .confirmed {
                        throw AMQPError(.channelClosed, "a benchmark message was not routed: \(confirmation)")
                    }
                }
            }
            try await group.waitForAll()
        }
        await publisher.close()
    }

    static func setup(_ amqp: AMQPConfiguration, services: Int) async throws {
        // Rating's queue as the worker declares it, so that this can run first.
        try Topology.workerQueue(
            "covenant.rating", commands: RatingHandler.commands, events: RatingHandler.subscribedEvents
        ).declare(using: amqp)
        // Events are routed `<tenant>.<type>`, on the exchange each travels (Topology.route).
        let tenantRoute = Topology.route(event: "tenant.updated", tenantId: tenant)
        let serviceRoute = Topology.route(event: ServiceEvent.activated, tenantId: tenant)
        let messages =
            [OutgoingMessage(tenantUpdated, exchange: tenantRoute.exchange, routingKey: tenantRoute.routingKey)]
            + (0..<services).map { service in
                OutgoingMessage(
                    serviceActivated(service), exchange: serviceRoute.exchange, routingKey: serviceRoute.routingKey)
            }
        try await publishAll(amqp, messages)
    }

    static func preload(_ amqp: AMQPConfiguration, services: Int, count: Int, queue: String?) async throws {
        if let queue {
            try AMQPTopology(queues: [.init(name: queue)]).declare(using: amqp)
        }
        let messages = (0..<count).map { index in
            OutgoingMessage(
                usageRecord(index, services: services), exchange: queue == nil ? Topology.commandsExchange : "",
                routingKey: queue ?? "usage.record")
        }
        try await publishAll(amqp, messages)
    }

    /// The broker's own limit for a worker's path: consume, publish each message on with
    /// confirms, acknowledge once confirmed; no database, no logic. Batches and prefetch as the
    /// worker's, and up to 4 batches in flight (the worker overlaps its relay with consuming).
    /// Published through the events exchange, as the worker publishes `usage.rated` (a topic
    /// exchange routes at a cost the default exchange does not have), with `output` as the
    /// routing key its queue is bound with.
    static func relay(_ amqp: AMQPConfiguration, from input: String, to output: String) async {
        let topology = AMQPTopology(
            exchanges: Topology.exchanges,
            queues: [
                .init(name: input),
                .init(name: output, bindings: [(exchange: Topology.eventsExchange, routingKey: output)]),
            ])
        let consumer = AMQPConsumer(
            configuration: amqp, queue: input, topology: topology, prefetch: UInt16(2 * RatingHandler.batchSize))
        let publisher = AMQPPublisher(configuration: amqp, topology: topology)
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            while let deliveries = await consumer.next(upTo: RatingHandler.batchSize) {
                if inFlight >= 4 {
                    await group.next()
                    inFlight -= 1
                }
                inFlight += 1
                group.addTask {
                    let outgoing = deliveries.map {
                        OutgoingMessage($0.message, exchange: Topology.eventsExchange, routingKey: output)
                    }
                    guard (try? await publisher.publish(outgoing)) != nil else { return }
                    for delivery in deliveries { consumer.acknowledge(delivery) }
                }
            }
        }
    }

    /// Consumes `queue` (declared, bound to `binding` on the events exchange unless "-") until
    /// `count` events arrived; the rate from the first to the last. Bound to `usage.rated`, an
    /// event is a record (one message may carry many); otherwise a message.
    static func drain(_ amqp: AMQPConfiguration, queue: String, binding: String, count: Int) async -> Double {
        // An event type, bound for every tenant (`*.<type>`: events are routed `<tenant>.<type>`).
        let bindings = binding == "-" ? [] : [(exchange: Topology.eventsExchange, routingKey: "*.\(binding)")]
        let topology = AMQPTopology(exchanges: Topology.exchanges, queues: [.init(name: queue, bindings: bindings)])
        let consumer = AMQPConsumer(configuration: amqp, queue: queue, topology: topology, prefetch: 1000)
        var received = 0
        var atFirst = 0
        var first = ContinuousClock.now
        var last = first
        for await delivery in consumer.deliveries {
            consumer.acknowledge(delivery)
            received += binding == "usage.rated" ? ratedUsageIds(delivery.message.body).count : 1
            last = .now
            if atFirst == 0 {
                // The first message's events arrived at the start: the rate counts what followed.
                first = last
                atFirst = received
                FileHandle.standardError.write(Data("drain: first message\n".utf8))
            }
            if received >= count { break }
        }
        await consumer.stop()
        return Double(received - atFirst) / seconds(last - first)
    }

    /// The usage ids a `usage.rated` body names (none if it is not one).
    static func ratedUsageIds(_ body: [UInt8]) -> [String] {
        guard case .success(let event) = CloudEvent.decode(body), case .array(let records)? = event.data["records"]
        else { return [] }
        return records.compactMap { record in
            if case .string(let id)? = record["usage_id"] { id } else { nil }
        }
    }

    /// Publishes usage at a steady rate (a tick every 10 ms) and times each to its usage.rated.
    static func latency(
        _ amqp: AMQPConfiguration, services: Int, rate: Int, seconds total: Int
    ) async throws
        -> (Double, Double)
    {
        let queue = "bench.latency.\(UInt32.random(in: 0...UInt32.max))"
        let topology = AMQPTopology(
            exchanges: Topology.exchanges,
            queues: [
                .init(
                    name: queue, kind: .classic,
                    bindings: [(exchange: Topology.eventsExchange, routingKey: "*.usage.rated")])
            ])
        let consumer = AMQPConsumer(configuration: amqp, queue: queue, topology: topology, prefetch: 1000)
        let publisher = AMQPPublisher(configuration: amqp, topology: topology)
        let sent = Mutex([String: ContinuousClock.Instant]())
        let count = rate * total
        let perTick = max(1, rate / 100)
        let run = "lat\(UInt32.random(in: 0...UInt32.max))"
        let receiver = Task {
            var latencies: [Double] = []
            for await delivery in consumer.deliveries {
                consumer.acknowledge(delivery)
                let arrived = ContinuousClock.now
                for usage in ratedUsageIds(delivery.message.body) where usage.hasPrefix(run) {
                    guard let start = sent.withLock({ $0.removeValue(forKey: usage) }), usage != "\(run)-warmup"
                    else { continue }
                    latencies.append(Self.seconds(arrived - start) * 1000)
                }
                if latencies.count == count { break }
            }
            return latencies
        }
        try await Task.sleep(for: .milliseconds(500))  // the consumer's queue is declared and bound
        // One message first, timed by nobody: it returns once the worker worked through what
        // was queued before it (the setup), so the figures are of a steady state.
        let warmup = usageRecord(0, services: services, id: "\(run)-warmup")
        sent.withLock { $0["\(run)-warmup"] = .now }
        _ = try await publisher.publish(warmup, exchange: Topology.commandsExchange, routingKey: "usage.record")
        while sent.withLock({ $0["\(run)-warmup"] != nil }) { try await Task.sleep(for: .milliseconds(50)) }
        let clock = ContinuousClock()
        var next = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for first in stride(from: 0, to: count, by: perTick) {
                try await clock.sleep(until: next)
                next = next.advanced(by: .milliseconds(10))
                let messages = (first..<min(first + perTick, count)).map { index in
                    OutgoingMessage(
                        usageRecord(index, services: services, run: run), exchange: Topology.commandsExchange,
                        routingKey: "usage.record")
                }
                let now = clock.now
                sent.withLock { sent in for message in messages { sent[message.message.messageId ?? ""] = now } }
                group.addTask { _ = try await publisher.publish(messages) }
            }
            try await group.waitForAll()
        }
        let latencies = await receiver.value.sorted()
        await consumer.stop()
        await publisher.close()
        guard !latencies.isEmpty else { return (.nan, .nan) }
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        return (percentile(0.50), percentile(0.99))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
