import BillingDomain
import CovenantMessages
import Foundation
import RatingWorker
import Testing
import WorkerRuntime
import WorkerStores

@Suite("Rating handler")
struct RatingHandlerTests {
    @Test("Usage lands in its month in the tenant's time zone, summed exactly")
    func months() async throws {
        let rating = try await Rating()
        try await rating.setUp()
        // 20:00Z on 31 Jan is 01:30 on 1 Feb in Kolkata.
        let rated = try await rating.usage("1.25", at: "2025-01-31T20:00:00Z").get()
        let record = try #require(rated.first?.data["records"]).arrayFirst
        #expect(record?["month"] == .string("2025-02") && record?["late"] == .bool(false))
        #expect(record?["usage_id"] == .string("msg-3") && record?["quantity"] == .string("1.25"))
        _ = try await rating.usage("0.75", at: "2025-02-10T08:00:00Z")
        let february = CalendarDate(year: 2025, month: 2, day: 1)!
        #expect(
            try await rating.store.usageTotal(tenantId: "acme", serviceId: "sim-1", metric: "gb", month: february)
                == Rational(2))
    }

    @Test("Unknown tenants, unknown services and another customer's service are rejected; so is a month past the limit")
    func rejections() async throws {
        let rating = try await Rating()
        #expect(try await rating.usage("1", at: "2025-01-10T00:00:00Z").failureCode == .unknownTenant)
        try await rating.setUp()
        // A service not known may be on its way and waits first; another customer's is refused at once.
        func outcome(service: String, customer: String) async throws -> HandlerOutcome {
            try await rating.handler.handle(
                CloudEvent(
                    id: "ahead-\(service)-\(customer)", source: "tests", type: "usage.record",
                    time: "2025-01-15T09:30:00Z", tenantId: "acme",
                    data: .object([
                        "customer_id": .string(customer), "service_id": .string(service), "metric": .string("gb"),
                        "quantity": .string("1"), "timestamp": .string("2025-01-10T00:00:00Z"),
                    ])))
        }
        guard
            case .rejectUnlessItArrives(let waiting, let attempts, _) = try await outcome(
                service: "sim-9", customer: "cust-1")
        else {
            Issue.record("usage of an unknown service is rejected without waiting")
            return
        }
        #expect(waiting.code == .unknownService && attempts > 0)
        guard case .reject(let refused) = try await outcome(service: "sim-1", customer: "cust-2") else {
            Issue.record("usage on another customer's service is not refused at once")
            return
        }
        #expect(refused.code == .unknownService)
        #expect(
            try await rating.usage("1", at: "2025-01-10T00:00:00Z", service: "sim-9").failureCode == .unknownService)
        #expect(
            try await rating.usage("1", at: "2025-01-10T00:00:00Z", customer: "cust-2").failureCode == .unknownService)
        #expect(try await rating.usage("999999999999", at: "2025-01-10T00:00:00Z").failureCode == nil)
        #expect(try await rating.usage("1.5", at: "2025-01-11T00:00:00Z").failureCode == .invalidQuantity)
        // Another tenant cannot rate usage on acme's service.
        try await rating.send("tenant.updated", #"{"name":"Rival","time_zone":"UTC"}"#, tenant: "rival")
        let foreign = try await rating.send(
            "usage.record",
            #"{"customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"1","timestamp":"2025-01-10T00:00:00Z"}"#,
            tenant: "rival")
        #expect(foreign.failureCode == .unknownService)
    }

    @Test("Usage dated before its service starts, or on or after the day its cancellation ends it, is unknown_service")
    func serviceLife() async throws {
        let rating = try await Rating()
        try await rating.setUp(zone: "UTC")  // sim-1 from 2025-01-01
        #expect(try await rating.usage("1", at: "2024-12-31T23:59:59Z").failureCode == .unknownService)
        #expect(try await rating.usage("1", at: "2025-01-01T00:00:00Z").failureCode == nil)
        try await rating.send(
            ServiceEvent(
                customerId: "cust-1", serviceId: "sim-1", revision: 2,
                change: .cancelled(effective: CalendarDate(year: 2025, month: 3, day: 10)!)))
        #expect(try await rating.usage("1", at: "2025-03-09T23:59:59Z").failureCode == nil)
        #expect(try await rating.usage("1", at: "2025-03-10T00:00:00Z").failureCode == .unknownService)
        #expect(
            try await rating.store.usageTotal(
                tenantId: "acme", serviceId: "sim-1", metric: "gb", month: CalendarDate(year: 2025, month: 3, day: 1)!)
                == Rational(1))
    }

    @Test("Usage whose day in the tenant's zone is past 9999-12-31 is rejected, alone or in a batch")
    func beyondCalendarText() async throws {
        let rating = try await Rating()
        try await rating.setUp()
        // 20:00Z on 31 Dec 9999 is 01:30 on 1 Jan 10000 in Kolkata: no YYYY-MM-DD for its month.
        let refused = try await rating.usage("1", at: "9999-12-31T20:00:00Z")
        #expect(refused.failureCode == .invalidMessage)
        // The same day in UTC has a month, but lies far outside the date window of today.
        #expect(
            try await rating.usageBatch([("1", "9999-12-31T20:00:00Z"), ("2", "9999-12-31T10:00:00Z")]) == [
                .invalidMessage, .dateOutOfRange,
            ])
    }

    @Test("Usage dated more than ten years from today is date_out_of_range, alone or in a batch")
    func dateWindow() async throws {
        let rating = try await Rating()
        try await rating.setUp()
        // Today is 2025-03-01 in Kolkata (the handler's clock): the window opens 2015-03-01.
        #expect(try await rating.usage("1", at: "2015-02-28T12:00:00Z").failureCode == .dateOutOfRange)
        #expect(try await rating.usage("1", at: "2035-03-02T12:00:00Z").failureCode == .dateOutOfRange)
        #expect(
            try await rating.usageBatch([("1", "2015-02-28T12:00:00Z"), ("2", "2025-02-10T12:00:00Z")]) == [
                .dateOutOfRange, nil,
            ])
    }

    @Test("A batch of usage keeps a running total: the month's limit holds across the batch, and the sums are exact")
    func batch() async throws {
        let rating = try await Rating()
        try await rating.setUp(zone: "UTC")
        _ = try await rating.usage("0.5", at: "2025-01-02T00:00:00Z")
        let codes = try await rating.usageBatch([
            ("999999999998", "2025-01-10T00:00:00Z"),  // 999,999,999,998.5 in January
            ("2", "2025-01-11T00:00:00Z"),  // would pass 10^12 with the one before it: rejected
            ("1.25", "2025-02-11T00:00:00Z"),  // February is another month
            ("1.5", "2025-01-12T00:00:00Z"),  // reaches 10^12 exactly: accepted
        ])
        #expect(codes == [nil, .invalidQuantity, nil, nil])
        let january = CalendarDate(year: 2025, month: 1, day: 1)!
        #expect(
            try await rating.store.usageTotal(tenantId: "acme", serviceId: "sim-1", metric: "gb", month: january)
                == Rational(1_000_000_000_000))
        #expect(
            try await rating.store.usageTotal(
                tenantId: "acme", serviceId: "sim-1", metric: "gb", month: january.startOfNextMonth)
                == Rational(decimal: "1.25"))
    }

    @Test(
        "Batches decided on the same total (one decided while another commits): the limit holds in the commit, and the batch's usage decided again alone rejects what would pass it"
    )
    func limitAtCommit() async throws {
        let rating = try await Rating()
        try await rating.setUp(zone: "UTC")
        let first = try await rating.decide([("600000000000", "2025-01-10T00:00:00Z"), ("1", "2025-01-10T00:00:00Z")])
        let second = try await rating.decide([
            ("400000000000", "2025-01-11T00:00:00Z"), ("0.5", "2025-01-11T00:00:00Z"),
        ])
        // Each decided on an empty month: within the limit alone.
        #expect(first.codes == [nil, nil] && second.codes == [nil, nil])
        try await rating.commit(first.units)
        #expect(
            try await rating.store.commit(decided: second.units)
                == [CommitOutcome](repeating: .versionConflict(kind: "batch", key: "*"), count: 2))
        // The runtime then takes the batch's messages one by one, on the total as it is.
        var codes: [RejectionCode?] = []
        for event in second.events {
            switch try await rating.handler.handle(event) {
            case .commit(var unit):
                unit.messageId = event.id
                #expect(try await rating.store.commit(unit) == .committed)
                codes.append(nil)
            case .reject(let rejection): codes.append(rejection.code)
            default: Issue.record("rating neither rated nor rejected \(event.id)")
            }
        }
        #expect(codes == [.invalidQuantity, nil])
        #expect(
            try await rating.store.usageTotal(
                tenantId: "acme", serviceId: "sim-1", metric: "gb", month: CalendarDate(year: 2025, month: 1, day: 1)!)
                == Rational(decimal: "600000000001.5"))
    }

    @Test("A batch's usage goes out as one usage.rated per tenant naming each rated record once, in order")
    func ratedTogether() async throws {
        let rating = try await Rating()
        try await rating.setUp(zone: "UTC")
        try await rating.send("tenant.updated", #"{"name":"Beta","time_zone":"UTC"}"#, tenant: "beta")
        try await rating.send(Rating.activation(service: "sim-1", plan: "p1"), tenant: "beta")
        let batch = [
            try rating.usageRecord("a-1", tenant: "acme", quantity: "1.5"),
            try rating.usageRecord("b-1", tenant: "beta", quantity: "2"),
            try rating.usageRecord("a-2", tenant: "acme", quantity: "-1"),  // rejected: no record
            try rating.usageRecord("a-3", tenant: "acme", quantity: "0.25"),
            try rating.usageRecord("b-2", tenant: "beta", quantity: "3"),
        ]
        let outcomes = try await rating.handler.handle(batch: batch)
        var units: [UnitOfWork] = []
        for (event, outcome) in zip(batch, outcomes) {
            switch outcome {
            case .commit(var unit):
                unit.messageId = event.id
                units.append(unit)
            case .reject(let rejection):
                #expect(event.id == "a-2" && rejection.code == .invalidQuantity)
            default:
                Issue.record("\(event.id): \(outcome)")
            }
        }
        // The last rated unit carries the batch's events and speaks for it; the others carry none.
        #expect(units.map(\.speaksForBatch) == [false, false, false, true])
        #expect(units.dropLast().allSatisfy { $0.outbox.isEmpty })
        let rated = try #require(units.last).outbox.map { try! CloudEvent.decode($0.body).get() }
        #expect(rated.map(\.type) == ["usage.rated", "usage.rated"])
        #expect(rated.map(\.tenantId) == ["acme", "beta"])
        #expect(rated.map(\.causationId) == ["a-1", "b-1"])
        func usageIds(_ event: CloudEvent) -> [JSONValue?] {
            guard case .array(let records)? = event.data["records"] else { return [] }
            return records.map { $0["usage_id"] }
        }
        #expect(rated.map(usageIds) == [[.string("a-1"), .string("a-3")], [.string("b-1"), .string("b-2")]])
        #expect(rated[1].data["records"]?.arrayFirst?["quantity"] == .string("2"))
        try await rating.commit(units)
        let january = CalendarDate(year: 2025, month: 1, day: 1)!
        #expect(
            try await rating.store.usageTotal(tenantId: "acme", serviceId: "sim-1", metric: "gb", month: january)
                == Rational(decimal: "1.75"))
        #expect(
            try await rating.store.usageTotal(tenantId: "beta", serviceId: "sim-1", metric: "gb", month: january)
                == Rational(5))

        // One rated record in a batch: its own event, and nothing to speak for.
        let alone = try await rating.handler.handle(batch: [
            try rating.usageRecord("a-4", tenant: "acme", quantity: "x"),
            try rating.usageRecord("a-5", tenant: "acme", quantity: "1"),
        ])
        guard case .commit(let unit) = alone.last else {
            Issue.record("a-5 was not rated: \(alone)")
            return
        }
        #expect(!unit.speaksForBatch && unit.outbox.count == 1)
    }

    @Test("A tenant's usage.rated carries at most 250 records: a larger batch names its records in parts, in order")
    func ratedInParts() async throws {
        let rating = try await Rating()
        try await rating.setUp(zone: "UTC")
        let batch = try (0..<260).map { try rating.usageRecord("u-\($0)", tenant: "acme", quantity: "1") }
        let outcomes = try await rating.handler.handle(batch: batch)
        guard case .commit(let last) = outcomes.last else {
            Issue.record("the last usage was not rated")
            return
        }
        #expect(last.speaksForBatch)
        let rated = last.outbox.map { try! CloudEvent.decode($0.body).get() }
        #expect(rated.map(\.recordCount) == [250, 10])
        #expect(rated.map(\.causationId) == ["u-0", "u-250"])
        #expect(Set(rated.map(\.id)).count == 2)
        let named = rated.flatMap { event -> [JSONValue?] in
            guard case .array(let records)? = event.data["records"] else { return [] }
            return records.map { $0["usage_id"] }
        }
        #expect(named == batch.map { .string($0.id) })
    }

    @Test("Usage of a month a completed run covered is marked late")
    func late() async throws {
        let rating = try await Rating()
        try await rating.setUp(zone: "UTC")
        try await rating.send("billing.run.completed", #"{"as_of":"2025-03-01","invoice_ids":[]}"#)
        let february = try await rating.usage("2", at: "2025-02-27T10:00:00Z").get()
        #expect(try #require(february.first?.data["records"]).arrayFirst?["late"] == .bool(true))
        let march = try await rating.usage("2", at: "2025-03-02T10:00:00Z").get()
        #expect(try #require(march.first?.data["records"]).arrayFirst?["late"] == .bool(false))
    }

    @Test("A service change seen before the service itself waits in the retry queue, then applies")
    func outOfOrder() async throws {
        let rating = try await Rating()
        try await rating.setUp()
        let change = CloudEvent(
            id: "change-1", source: "tests", type: "service.plan_changed", time: "2025-01-15T09:30:00Z",
            tenantId: "acme",
            data: ServiceEvent(
                customerId: "cust-1", serviceId: "sim-7", revision: 2,
                change: .planChanged(planId: "p2", effective: CalendarDate(year: 2025, month: 2, day: 1)!)
            ).data)
        guard case .retryLater = try await rating.handler.handle(change) else {
            Issue.record("a change of an unknown service does not wait")
            return
        }
        try await rating.send(Rating.activation(service: "sim-7", plan: "p1"))
        guard case .commit(let unit) = try await rating.handler.handle(change) else {
            Issue.record("the change does not apply once the service is known")
            return
        }
        #expect(unit.documents.map(\.key) == ["acme/sim-7"])
    }
}
