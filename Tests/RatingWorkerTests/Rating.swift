import BillingDomain
import CovenantMessages
import Foundation
import RatingWorker
import Testing
import WorkerRuntime
import WorkerStores

final class Rating {
    let store: SQLiteWorkerStore
    let handler: RatingHandler
    private var sequence = 0

    init() async throws {
        store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-rating-\(UUID().uuidString)", role: .rating)
        try await store.migrate()
        handler = RatingHandler(
            store: store, events: EventFactory(source: "covenant/rating"), now: { "2025-03-01T00:00:00Z" })
    }

    @discardableResult
    func send(_ type: String, _ data: String, tenant: String = "acme") async throws -> Result<[CloudEvent], Rejection> {
        sequence += 1
        let event = CloudEvent(
            id: "msg-\(sequence)", source: "tests", type: type, time: "2025-01-15T09:30:00Z", tenantId: tenant,
            data: try #require(JSONValue.parse(Array(data.utf8))))
        switch try await handler.handle(event) {
        case .reject(let rejection): return .failure(rejection)
        // What the runtime does once the waits are used up.
        case .rejectUnlessItArrives(let rejection, _, _): return .failure(rejection)
        case .retryLater(let reason, _, _):
            Issue.record("rating does not wait: \(reason)")
            return .success([])
        case .commit(var unit):
            unit.messageId = event.id
            #expect(try await store.commit(unit) == .committed)
            return .success(unit.outbox.map { try! CloudEvent.decode($0.body).get() })
        }
    }

    /// Usage records decided as one batch and committed together, as the runtime does.
    func usageBatch(_ records: [(quantity: String, timestamp: String)]) async throws -> [RejectionCode?] {
        let decided = try await decide(records)
        try await commit(decided.units)
        return decided.codes
    }

    /// Usage records decided as one batch: the events, each one's rejection or nil, and the
    /// units to commit.
    func decide(
        _ records: [(quantity: String, timestamp: String)]
    ) async throws -> (events: [CloudEvent], codes: [RejectionCode?], units: [UnitOfWork]) {
        let events = try records.map { record in
            sequence += 1
            return try usageRecord(
                "msg-\(sequence)", tenant: "acme", quantity: record.quantity, at: record.timestamp)
        }
        #expect(events.allSatisfy { handler.batchableTypes.contains($0.type) })
        let outcomes = try await handler.handle(batch: events)
        var units: [UnitOfWork] = []
        var codes: [RejectionCode?] = []
        for (event, outcome) in zip(events, outcomes) {
            switch outcome {
            case .commit(var unit):
                unit.messageId = event.id
                units.append(unit)
                codes.append(nil)
            case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _): codes.append(rejection.code)
            case .retryLater(let reason, _, _): Issue.record("rating does not wait: \(reason)")
            }
        }
        return (events, codes, units)
    }

    /// Commits a batch's units as the runtime does.
    func commit(_ units: [UnitOfWork]) async throws {
        #expect(try await store.commit(decided: units).allSatisfy { $0 == .committed })
    }

    /// A `usage.record` of `tenant`'s `cust-1` on `sim-1`.
    func usageRecord(
        _ id: String, tenant: String, quantity: String, at timestamp: String = "2025-01-10T00:00:00Z"
    ) throws -> CloudEvent {
        let data =
            #"{"customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"\#(quantity)","timestamp":"\#(timestamp)"}"#
        return CloudEvent(
            id: id, source: "tests", type: "usage.record", time: "2025-01-15T09:30:00Z", tenantId: tenant,
            data: try #require(JSONValue.parse(Array(data.utf8))))
    }

    func usage(
        _ quantity: String, at timestamp: String, service: String = "sim-1", customer: String = "cust-1"
    )
        async throws -> Result<[CloudEvent], Rejection>
    {
        try await send(
            "usage.record",
            #"{"customer_id":"\#(customer)","service_id":"\#(service)","metric":"gb","quantity":"\#(quantity)","timestamp":"\#(timestamp)"}"#
        )
    }

    func setUp(zone: String = "Asia/Kolkata") async throws {
        try await send("tenant.updated", #"{"name":"Acme","time_zone":"\#(zone)"}"#)
        try await send(Self.activation(service: "sim-1", plan: "sim-payg"))
    }

    /// `cust-1`'s PAYG service activated on 2025-01-01, as provisioning publishes it.
    static func activation(service: String, plan: String) -> ServiceEvent {
        ServiceEvent(
            customerId: "cust-1", serviceId: service, revision: 1,
            change: .activated(
                .init(
                    planId: plan, planName: plan, currency: Currency(code: "GBP")!, serviceType: "sim",
                    billingModel: .payg, startDate: CalendarDate(year: 2025, month: 1, day: 1)!)))
    }

    /// A service event as provisioning publishes it.
    @discardableResult
    func send(_ event: ServiceEvent, tenant: String = "acme") async throws -> Result<[CloudEvent], Rejection> {
        try await send(event.type, String(decoding: event.data.serialized(), as: UTF8.self), tenant: tenant)
    }
}

extension Result where Failure == Rejection {
    var failureCode: RejectionCode? {
        if case .failure(let rejection) = self { return rejection.code }
        return nil
    }
}

extension JSONValue {
    var arrayFirst: JSONValue? {
        if case .array(let items) = self { return items.first }
        return nil
    }
}
