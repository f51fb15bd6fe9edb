import AMQPClient
import CovenantMessages
import Foundation
import Synchronization
import Testing
import WorkerRuntime

/// An integrator's view of a cluster: its own queue on the events exchange, keeping the events
/// of the tenants it is given.
final class Integrator: Sendable {
    let consumer: AMQPConsumer
    let events = EventLog()
    private let collecting: Task<Void, Never>

    convenience init(_ configuration: AMQPConfiguration, tenant: String) {
        self.init(configuration, tenants: [tenant])
    }

    init(_ configuration: AMQPConfiguration, tenants: Set<String>) {
        let queue = "integrator.\(UUID().uuidString.prefix(8))"
        let consumer = AMQPConsumer(
            configuration: configuration, queue: queue,
            topology: AMQPTopology(
                exchanges: Topology.exchanges,
                queues: [.init(name: queue, kind: .classic, bindings: [(Topology.eventsExchange, "#")])]))
        let events = self.events
        self.consumer = consumer
        collecting = Task {
            for await delivery in consumer.deliveries {
                consumer.acknowledge(delivery)
                if let event = try? CloudEvent.decode(delivery.message.body).get(), tenants.contains(event.tenantId) {
                    events.append(event)
                }
            }
        }
    }

    /// Waits until `count` events of `type` arrived, or the deadline.
    func waitFor(_ type: String, count: Int = 1, until deadline: ContinuousClock.Instant) async throws {
        while ContinuousClock.now < deadline, events.count(of: type) < count {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits until a `command.rejected` arrived for each of `commandIds`, or the deadline; the
    /// tenant `covenant` also collects other tests' unreadable messages, so counting is not enough.
    func waitForRejections(of commandIds: Set<String>, until deadline: ContinuousClock.Instant) async throws {
        while ContinuousClock.now < deadline,
            !commandIds.isSubset(
                of: events.of("command.rejected").compactMap { event -> String? in
                    if case .string(let id) = event.data["command_id"] { id } else { nil }
                })
        {
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func stop() async {
        await consumer.stop()
        collecting.cancel()
    }
}

/// Waits until each queue has `replicas` consumers (its workers connected and declared it);
/// fails the test when they do not by the deadline (a worker that crashed at start).
func waitForWorkers(
    _ queues: [String], _ configuration: AMQPConfiguration, replicas: Int = 1, until deadline: ContinuousClock.Instant
)
    async throws
{
    let expected = Array(repeating: replicas, count: queues.count)
    var consumers: [Int] = []
    while ContinuousClock.now < deadline {
        consumers = (try? inspectQueues(queues, using: configuration).map(\.consumers)) ?? []
        if consumers == expected { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    try #require(consumers == expected, "consumers of \(queues): \(consumers)")
}

/// Events an integrator received, shared between tasks.
final class EventLog: Sendable {
    private let events = Mutex<[CloudEvent]>([])

    func append(_ event: CloudEvent) { events.withLock { $0.append(event) } }
    var all: [CloudEvent] { events.withLock { $0 } }
    /// Events of `type`; for `usage.rated`, the usage records they carry (one event may carry
    /// a batch's).
    func count(of type: String) -> Int {
        events.withLock { events in
            events.filter { $0.type == type }.reduce(0) { count, event in
                count + (type == "usage.rated" ? event.recordCount : 1)
            }
        }
    }
    func of(_ type: String) -> [CloudEvent] { events.withLock { $0.filter { $0.type == type } } }
}

extension AMQPConsumer {
    /// The next delivery, or nil when none comes within `limit` (the consumer then delivers no
    /// more).
    func next(within limit: Duration) async -> AMQPDelivery? {
        await withTaskGroup(of: AMQPDelivery?.self) { group in
            group.addTask { await self.next(upTo: 1)?.first }
            group.addTask {
                // Cancelled: the delivery came first, and the consumer goes on.
                guard (try? await Task.sleep(for: limit)) != nil else { return nil }
                self.finishDeliveries()
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
