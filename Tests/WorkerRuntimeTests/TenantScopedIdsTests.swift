import AMQPClient
import BillingDomain
import CovenantMessages
import Foundation
import Logging
import ServiceLifecycle
import Testing
import WorkerRuntime
import WorkerStores

extension WorkerRuntimeTests {
    @Test(
        "Ids are scoped by tenant: another tenant's id does not block one's own, a repeat of one's own is a repeat; covenant: ids and tenant covenant are refused"
    )
    func tenantScopedIds() async throws {
        let configuration = try amqp()
        let (tenant, queue, _) = Self.isolated("test-scoped")
        let victim = "\(tenant)-victim"
        let topology = Topology.workerQueue(queue, commands: ["usage.record"])
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-scoped-\(UUID().uuidString)", role: .rating)
        try await store.migrate()
        // An inbox of the release before: a bare id, kept by migration 3 as `~<id>`, still a repeat.
        _ = try await store.commit(UnitOfWork(messageId: "~\(tenant)-before-upgrade"))
        let events = EventFactory(source: "covenant/test-scoped")
        let worker = Worker(
            configuration: Worker.Configuration(queue: queue, topology: topology), amqp: configuration, store: store,
            handler: UsageTotalsHandler(events: events), events: events, logger: Logger(label: "test-scoped"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }
        let integrator = integrator(configuration, of: ["command.rejected"])
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)

        func usage(_ id: String, of owner: String, quantity: String) -> OutgoingMessage {
            OutgoingMessage(
                self.usage(id, tenant: owner, service: "sim-1", quantity: quantity),
                exchange: Topology.commandsExchange,
                routingKey: "usage.record")
        }
        // The attacker spends the victim's next id first; then the victim's own message, twice.
        let shared = "\(tenant)-shared"
        _ = try await publisher.publish([
            usage(shared, of: tenant, quantity: "1"), usage(shared, of: victim, quantity: "10"),
            usage(shared, of: victim, quantity: "10"), usage("\(tenant)-before-upgrade", of: tenant, quantity: "100"),
            usage("covenant:clock:\(victim):2025-02-01", of: tenant, quantity: "1000"),
            usage("\(tenant)-as-cluster", of: CloudEvent.clusterTenant, quantity: "1000"),
        ])
        let day = CalendarDate(year: 2025, month: 1, day: 15)!  // the handler totals by day
        func total(_ owner: String) async throws -> Rational? {
            try await store.usageTotals(of: [
                UsageMonthKey(tenantId: owner, serviceId: "sim-1", metric: "gb", month: day)
            ])
            .values.first
        }
        var rejected: [String: String] = [:]
        let deadline = ContinuousClock.now + .seconds(30)
        for await delivery in integrator.deliveries {
            integrator.acknowledge(delivery)
            if let event = CloudEvent.decode(delivery.message.body).success,
                case .string(let id) = event.data["command_id"], case .string(let code) = event.data["code"],
                id.hasPrefix(tenant) || id.hasPrefix("covenant:clock:\(victim)")
            {
                rejected[id] = "\(event.tenantId) \(code)"
            }
            if rejected.count >= 2 || ContinuousClock.now > deadline { break }
        }
        while ContinuousClock.now < deadline, try await total(victim) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(300))  // a second count would have landed by now
        await group.triggerGracefulShutdown()
        try await running.value
        await integrator.stop()
        await publisher.close()

        #expect(try await total(tenant) == Rational(1))
        #expect(try await total(victim) == Rational(10))
        // Refused: a tenant may not use Covenant's ids, nor speak for the cluster.
        #expect(
            rejected == [
                "covenant:clock:\(victim):2025-02-01": "\(tenant) invalid_message",
                "\(tenant)-as-cluster": "covenant invalid_message",
            ])
    }
}
