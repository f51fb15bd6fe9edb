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

/// Usage totals, but a message whose id says `killer` never returns: as a handler that traps or
/// exhausts memory would, it leaves its worker to die with the message unsettled.
final class KillingHandler: MessageHandler {
    let inner: UsageTotalsHandler
    let begun = Mutex(0)

    init(inner: UsageTotalsHandler) { self.inner = inner }

    func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        if event.id.contains("killer") {
            begun.withLock { $0 += 1 }
            try await Task.sleep(for: .seconds(3_600))
        }
        return try await inner.handle(event)
    }
}

extension WorkerRuntimeTests {
    @Test(
        "A message its worker dies on, again and again, is set aside after crashLimit tries alone; the messages prefetched with it are rated once"
    )
    func killerSetAside() async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-killer")
        let topology = Topology.workerQueue(queue, commands: [routingKey])
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-worker-\(UUID().uuidString)", role: .rating)
        let events = EventFactory(source: "covenant/test-killer")
        let handler = KillingHandler(inner: UsageTotalsHandler(events: events))
        let integrator = integrator(configuration, of: ["usage.rated", "command.rejected"])
        let arrivals = Mutex<[String]>([])
        let collecting = Task {
            for await delivery in integrator.deliveries {
                integrator.acknowledge(delivery)
                guard let event = CloudEvent.decode(delivery.message.body).success,
                    event.source == "covenant/test-killer", event.causationId?.hasPrefix(tenant) == true
                else { continue }
                let code = event.data["code"].flatMap { if case .string(let code) = $0 { code } else { nil } }
                arrivals.withLock { $0.append(code.map { "rejected:\($0)" } ?? "rated:\(event.causationId ?? "")") }
            }
        }
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        var outgoing = [
            OutgoingMessage(
                usage("\(tenant)-killer", tenant: tenant, service: "sim-1", quantity: "1"),
                exchange: Topology.commandsExchange, routingKey: routingKey)
        ]
        for index in 0..<10 {
            outgoing.append(
                OutgoingMessage(
                    usage("\(tenant)-u-\(index)", tenant: tenant, service: "sim-2", quantity: "1"),
                    exchange: Topology.commandsExchange, routingKey: routingKey))
        }
        _ = try await publisher.publish(outgoing)

        // Each worker takes the killer and dies on it, unsettled (cancelled, not stopped): the
        // first within a batch, the next ones alone, each try recorded first.
        let crashLimit = 3
        var survivor: (group: ServiceGroup, running: Task<Void, any Error>)?
        for life in 1...(crashLimit + 2) {
            var settings = Self.settings(queue, topology)
            settings.crashLimit = crashLimit
            let worker = Worker(
                configuration: settings, amqp: configuration, store: store, handler: handler, events: events,
                logger: Logger(label: "test-killer"))
            let group = ServiceGroup(
                services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
            let running = Task { try await group.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline,
                handler.begun.withLock({ $0 }) < life,
                !arrivals.withLock({ $0.contains("rejected:internal_error") })
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            // The worker that set it aside lives on, to rate what the dead ones left.
            if arrivals.withLock({ $0.contains("rejected:internal_error") }) {
                survivor = (group, running)
                break
            }
            running.cancel()
            _ = try? await running.value
        }

        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, Set(arrivals.withLock { $0 }).count < 11 {
            try await Task.sleep(for: .milliseconds(50))
        }
        if let survivor {
            await survivor.group.triggerGracefulShutdown()
            try await survivor.running.value
        }
        let seen = arrivals.withLock { $0 }
        // Begun once in its first batch, then crashLimit times alone; the next worker set it aside.
        #expect(handler.begun.withLock { $0 } == 1 + crashLimit)
        #expect(seen.filter { $0 == "rejected:internal_error" }.count == 1)
        #expect(Set(seen.filter { $0.hasPrefix("rated:") }).count == 10)
        let month = CalendarDate(year: 2025, month: 1, day: 1)!
        #expect(
            try await store.usageTotal(tenantId: tenant, serviceId: "sim-2", metric: "gb", month: month) == Rational(10)
        )
        #expect(try await store.usageTotal(tenantId: tenant, serviceId: "sim-1", metric: "gb", month: month) == .zero)

        // It sits in the dead-letter queue with its reason.
        let letter = try #require(await deadLetters(configuration, of: queue, topology, count: 1).first)
        #expect(letter.message.messageId == "\(tenant)-killer")
        #expect(letter.message.headers["x-covenant-reason-code"]?.stringValue == "internal_error")
        await integrator.stop()
        collecting.cancel()
        await publisher.close()
    }
}
