import BillingDomain
import CommitmentsWorker
import CovenantMessages
import Foundation
import InvoicingWorker
import ProvisioningWorker
import Testing
import WorkerRuntime
import WorkerStores

/// Provisioning, invoicing and commitments handlers over their own SQLite stores, with a
/// queue between them standing in for the broker: each published event goes to every handler
/// that subscribes to it, a message told to retry later goes to the back, and with a seed the
/// queue delivers in random order (what competing consumers and redelivery do).
final class Pipeline {
    let provisioningStore: SQLiteWorkerStore
    let invoicingStore: SQLiteWorkerStore
    let commitmentsStore: SQLiteWorkerStore
    let provisioning: ProvisioningHandler
    let invoicing: InvoicingHandler
    let commitments: CommitmentsHandler
    private var sequence = 0
    private var queue: [(CloudEvent, Route)] = []
    private var random: SeededRandom?
    /// Messages parked with "retry later", over the whole pipeline.
    private(set) var retries = 0

    enum Route { case provisioning, invoicing, commitments }

    init(shuffleSeed: UInt64? = nil) async throws {
        let directory = NSTemporaryDirectory() + "covenant-pipeline-\(UUID().uuidString)"
        provisioningStore = try SQLiteWorkerStore(directory: directory, role: .provisioning)
        invoicingStore = try SQLiteWorkerStore(directory: directory, role: .invoicing)
        commitmentsStore = try SQLiteWorkerStore(directory: directory, role: .commitments)
        for store in [provisioningStore, invoicingStore, commitmentsStore] { try await store.migrate() }
        provisioning = ProvisioningHandler(
            store: provisioningStore, events: EventFactory(source: "covenant/provisioning"),
            now: { "2027-01-01T00:00:00Z" })
        invoicing = InvoicingHandler(
            store: invoicingStore, events: EventFactory(source: "covenant/invoicing"), now: { "2025-02-01T00:00:00Z" })
        commitments = CommitmentsHandler(
            store: commitmentsStore, events: EventFactory(source: "covenant/commitments"),
            now: { "2025-02-01T00:00:00Z" })
        random = shuffleSeed.map(SeededRandom.init)
    }

    func event(_ type: String, _ data: String) throws -> CloudEvent {
        sequence += 1
        return CloudEvent(
            id: "m-\(sequence)", source: "tests", type: type, time: "2025-01-15T09:30:00Z", tenantId: "acme",
            data: try #require(JSONValue.parse(Array(data.utf8))))
    }

    private func enqueue(_ event: CloudEvent) {
        if (ProvisioningHandler.commands + ProvisioningHandler.subscribedEvents).contains(event.type) {
            queue.append((event, .provisioning))
        }
        if (InvoicingHandler.commands + InvoicingHandler.subscribedEvents).contains(event.type) {
            queue.append((event, .invoicing))
        }
        if CommitmentsHandler.subscribedEvents.contains(event.type) { queue.append((event, .commitments)) }
    }

    /// Publishes a command (or an event) and delivers until nothing is left; returns every
    /// event published on the way, in the order published.
    @discardableResult
    func send(_ type: String, _ data: String) async throws -> [CloudEvent] {
        enqueue(try event(type, data))
        return try await drain()
    }

    /// Delivers queued messages until the queue is empty.
    func drain() async throws -> [CloudEvent] {
        var published: [CloudEvent] = []
        var idleRounds = 0
        while !queue.isEmpty {
            let index = random.map { Int($0.next() % UInt64(queue.count)) } ?? 0
            let (event, route) = queue.remove(at: index)
            let (handler, store): (any MessageHandler, any DocumentStore) =
                switch route {
                case .provisioning: (provisioning, provisioningStore)
                case .invoicing: (invoicing, invoicingStore)
                case .commitments: (commitments, commitmentsStore)
                }
            if try await store.hasHandled(messageId: event.id) { continue }
            switch try await handler.handle(event) {
            case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                Issue.record("\(route) rejected \(event.type): \(rejection)")
            case .retryLater:
                retries += 1
                idleRounds += 1
                try #require(idleRounds < 10_000, "messages wait for something that never comes")
                queue.append((event, route))
            case .commit(var unit):
                idleRounds = 0
                unit.messageId = event.id
                #expect(try await store.commit(unit) == .committed)
                for message in unit.outbox {
                    let next = try CloudEvent.decode(message.body).get()
                    published.append(next)
                    enqueue(next)
                }
            }
        }
        return published
    }

    /// Runs a command through provisioning alone, with the commands it sends itself (a billing
    /// run's parts), and returns its events, undelivered.
    func provisioningOnly(_ type: String, _ data: String) async throws -> [CloudEvent] {
        try await provisioningOnly(try event(type, data))
    }

    private func provisioningOnly(_ command: CloudEvent) async throws -> [CloudEvent] {
        guard case .commit(var unit) = try await provisioning.handle(command) else {
            Issue.record("provisioning did not accept \(command.type)")
            return []
        }
        unit.messageId = command.id
        #expect(try await provisioningStore.commit(unit) == .committed)
        var events: [CloudEvent] = []
        for message in unit.outbox {
            let event = try CloudEvent.decode(message.body).get()
            events += event.type == BillingRunPart.type ? try await provisioningOnly(event) : [event]
        }
        return events
    }

    /// Hands events to the pipeline as if the broker delivered them now.
    func deliver(_ events: [CloudEvent]) async throws -> [CloudEvent] {
        events.forEach(enqueue)
        return try await drain()
    }
}

/// A small deterministic generator (SplitMix64) for reproducible shuffles.
final class SeededRandom {
    private var state: UInt64
    init(_ seed: UInt64) { state = seed }
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension [CloudEvent] {
    func of(_ type: String) -> [CloudEvent] { filter { $0.type == type } }
}
