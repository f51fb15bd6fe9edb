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

@Suite("Messages that keep failing are set aside")
/// A fault its data reaches while the store answers (a bug, say): retryable, so it waits.
struct PoisonFault: Error {}

struct FaultPolicyTests {
    @Test("Each fault waits longer, in the role's retry queues; the limit-th sets the message aside")
    func decisions() {
        let policy = FaultPolicy(limit: 4, retryDelaysMilliseconds: [5_000, 500, 60_000])
        #expect(policy.decide(faultsBefore: 0) == .wait(milliseconds: 500, faults: 1))
        #expect(policy.decide(faultsBefore: 1) == .wait(milliseconds: 5_000, faults: 2))
        #expect(policy.decide(faultsBefore: 2) == .wait(milliseconds: 60_000, faults: 3))
        #expect(policy.decide(faultsBefore: 3) == .setAside(faults: 4))
        #expect(policy.decide(faultsBefore: 99) == .setAside(faults: 100))
        #expect(policy.decide(faultsBefore: -5) == .wait(milliseconds: 500, faults: 1))
        #expect(FaultPolicy(limit: 3, retryDelaysMilliseconds: []).decide(faultsBefore: 0) == .retryInPlace)
        #expect(FaultPolicy(limit: 0, retryDelaysMilliseconds: [500]).decide(faultsBefore: 0) == .setAside(faults: 1))
        // A fault no retry mends (stored state that cannot be read) is set aside at once.
        #expect(policy.decide(faultsBefore: 0, retryable: false) == .setAside(faults: 1))
        #expect(
            FaultPolicy(limit: 3, retryDelaysMilliseconds: []).decide(faultsBefore: 0, retryable: false)
                == .setAside(faults: 1))
    }

    @Test("Faults are classified: the store's codes say whether a retry can mend them; the databases' own errors can")
    func classified() {
        #expect(FaultPolicy.isRetryable(StoreError.corrupt("account", "acme/c-1")) == false)
        #expect(FaultPolicy.isRetryable(StoreError(.inconsistent, "2 of 3")) == false)
        #expect(FaultPolicy.isRetryable(PoisonFault()) == true)
        #expect(
            (try? StoreError.readingStored("account", "acme/c-1") {
                throw Rejection(.invalidMessage, "account.ledger is missing")
            })
                == nil)
        do {
            _ = try StoreError.readingStored("account", "acme/c-1") { () throws -> Int in
                throw Rejection(.invalidMessage, "account.ledger is missing")
            }
        } catch {
            #expect(error.code == .corruptState && error.message.contains("acme/c-1"))
        }
    }
}

/// Usage totals, but a message whose id says `poison` meets a retryable fault, and one whose id
/// says `corrupt` meets stored state that cannot be read.
final class PoisonedHandler: MessageHandler {
    let inner: UsageTotalsHandler
    /// Tries by the kind of failure: `poison`, `corrupt`.
    let attempts = Mutex<[String: Int]>([:])

    init(inner: UsageTotalsHandler) { self.inner = inner }

    func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        if event.id.contains("poison") {
            attempts.withLock { $0["poison", default: 0] += 1 }
            throw PoisonFault()
        }
        if event.id.contains("corrupt") {
            attempts.withLock { $0["corrupt", default: 0] += 1 }
            throw StoreError.corrupt("service", "\(event.tenantId)/sim-1")
        }
        return try await inner.handle(event)
    }
}

extension WorkerRuntimeTests {
    @Test(
        "A message that fails while the store answers waits, then is set aside as internal_error; one that meets corrupt stored state is set aside at once; the rest go on"
    )
    func poisonSetAside() async throws {
        let configuration = try amqp()
        let (tenant, queue, routingKey) = Self.isolated("test-poison")
        let topology = Topology.workerQueue(
            queue, commands: [routingKey], events: [routingKey], retryDelaysMilliseconds: [1_000, 2_000])
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-worker-\(UUID().uuidString)", role: .rating)
        let events = EventFactory(source: "covenant/test-poison")
        let handler = PoisonedHandler(inner: UsageTotalsHandler(events: events))
        var settings = Self.settings(queue, topology)
        settings.faultLimit = 3
        let worker = Worker(
            configuration: settings, amqp: configuration, store: store, handler: handler, events: events,
            logger: Logger(label: "test-poison"))
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: Logger(label: "test-group"))
        let running = Task { try await group.run() }

        let integrator = integrator(configuration, of: ["usage.rated", "command.rejected"])
        let arrivals = Mutex<[String]>([])
        let collecting = Task {
            for await delivery in integrator.deliveries {
                integrator.acknowledge(delivery)
                guard let event = CloudEvent.decode(delivery.message.body).success,
                    event.source == "covenant/test-poison", event.causationId?.hasPrefix(tenant) == true
                else { continue }
                let code = event.data["code"].flatMap { if case .string(let code) = $0 { code } else { nil } }
                arrivals.withLock { $0.append(code.map { "rejected:\($0)" } ?? "rated") }
            }
        }
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        let poison = usage("\(tenant)-poison", tenant: tenant, service: "sim-1", quantity: "1")
        let corrupt = usage("\(tenant)-corrupt", tenant: tenant, service: "sim-1", quantity: "1")
        var outgoing = [poison, corrupt].map {
            OutgoingMessage($0, exchange: Topology.commandsExchange, routingKey: routingKey)
        }
        for index in 0..<20 {
            outgoing.append(
                OutgoingMessage(
                    usage("\(tenant)-u-\(index)", tenant: tenant, service: "sim-2", quantity: "1"),
                    exchange: Topology.commandsExchange, routingKey: routingKey))
        }
        _ = try await publisher.publish(outgoing)

        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, arrivals.withLock({ $0.count }) < 22 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let seen = arrivals.withLock { $0 }
        // The twenty behind it were rated while it waited; then it was set aside, once. Stored
        // state that cannot be read is set aside at its first fault: no retry reads it otherwise.
        #expect(seen.filter { $0 == "rated" }.count == 20)
        #expect(seen.filter { $0 == "rejected:internal_error" }.count == 2)
        #expect(seen.last == "rejected:internal_error")
        #expect(handler.attempts.withLock { $0 } == ["poison": 3, "corrupt": 1])
        let month = CalendarDate(year: 2025, month: 1, day: 1)!
        #expect(
            try await store.usageTotal(tenantId: tenant, serviceId: "sim-2", metric: "gb", month: month) == Rational(20)
        )
        #expect(try await store.usageTotal(tenantId: tenant, serviceId: "sim-1", metric: "gb", month: month) == .zero)

        // Each sits in the dead-letter queue with its reason and the faults it met.
        let letters = await deadLetters(configuration, of: queue, topology, count: 2)
        let byId = Dictionary(letters.map { ($0.message.messageId ?? "", $0.message.headers) }) { $1 }
        #expect(byId.keys.sorted() == ["\(tenant)-corrupt", "\(tenant)-poison"])
        #expect(byId.values.allSatisfy { $0["x-covenant-reason-code"]?.stringValue == "internal_error" })
        #expect(byId["\(tenant)-poison"]?[FaultPolicy.faultsHeader]?.stringValue == "2")
        #expect(byId["\(tenant)-corrupt"]?["x-covenant-reason"]?.stringValue?.contains("corrupt_state") == true)
        await group.triggerGracefulShutdown()
        try await running.value
        await integrator.stop()
        collecting.cancel()
        await publisher.close()
    }
}
