import BillingDomain
import Foundation
import Testing
import WorkerStores

/// Usage totals: exact sums, batches and units committed together, the limit held in the commit.
extension WorkerStoreConformanceTests {
    @Test("Usage totals add up exactly and read back equal", arguments: Backend.allCases)
    func usageTotals(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.rating)
        let month = CalendarDate(year: 2025, month: 1, day: 17)!
        for index in 0..<10 {
            let unit = UnitOfWork(
                messageId: "u-\(index)",
                usage: [
                    UsageIncrement(
                        tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month, quantity: dec("0.1"))
                ])
            #expect(try await store.commit(unit) == .committed)
        }
        _ = try await store.commit(
            UnitOfWork(
                messageId: "u-big",
                usage: [
                    UsageIncrement(
                        tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month,
                        quantity: dec("999999999998.123456"))
                ]))
        // 10 × 0.1 = 1 exactly (a binary float would not), plus the big one.
        #expect(
            try await store.usageTotal(tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month)
                == dec("999999999999.123456"))
        #expect(try await store.usageTotal(tenantId: "acme", serviceId: "sim-1", metric: "sms", month: month) == .zero)
        // A repeat of a usage message is not counted twice.
        _ = try await store.commit(
            UnitOfWork(
                messageId: "u-3",
                usage: [
                    UsageIncrement(
                        tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month, quantity: dec("0.1"))
                ]))
        #expect(
            try await store.usageTotal(tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month)
                == dec("999999999999.123456"))
        // Several totals read at once; a month with nothing is absent.
        let january = UsageMonthKey(tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month)
        let february = UsageMonthKey(
            tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month.startOfNextMonth)
        #expect(try await store.usageTotals(of: [january, february, january]) == [january: dec("999999999999.123456")])
        // Totals of other services, metrics, tenants and months read back each under its own key.
        let others: [(UsageMonthKey, Rational)] = [
            (UsageMonthKey(tenantId: "acme", serviceId: "sim-2", metric: "gb", month: month), dec("2")),
            (UsageMonthKey(tenantId: "acme", serviceId: "sim-2", metric: "sms", month: month), dec("3")),
            (UsageMonthKey(tenantId: "beta", serviceId: "sim-1", metric: "gb", month: month), dec("4")),
            (february, dec("5.5")),
        ]
        for (index, (key, quantity)) in others.enumerated() {
            let increment = UsageIncrement(
                tenantId: key.tenantId, serviceId: key.serviceId, metric: key.metric, month: key.month,
                quantity: quantity)
            #expect(try await store.commit(UnitOfWork(messageId: "o-\(index)", usage: [increment])) == .committed)
        }
        let missing = UsageMonthKey(tenantId: "beta", serviceId: "sim-2", metric: "gb", month: month)
        let read = try await store.usageTotals(of: [missing, january] + others.map(\.0))
        #expect(read == Dictionary(uniqueKeysWithValues: others + [(january, dec("999999999999.123456"))]))
        try await store.close()
    }

    @Test(
        "A batch of usage adds each unit once: repeats, before or within the batch, and a unit rolled back to its savepoint add nothing; the rest add up and publish in order",
        arguments: Backend.allCases)
    func usageBatch(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.rating)
        store.handOffOutbox(to: "relay-a", lease: .seconds(60))
        let month = CalendarDate(year: 2025, month: 3, day: 1)!
        func usage(_ id: String, _ service: String, _ quantity: String, document version: Int64? = nil) -> UnitOfWork {
            usageUnit(
                id,
                adding: [(UsageMonthKey(tenantId: "acme", serviceId: service, metric: "gb", month: month), quantity)],
                documents: version.map {
                    [DocumentWrite(kind: "service", key: "acme/\(service)", body: Array(id.utf8), expectedVersion: $0)]
                } ?? [])
        }
        #expect(try await store.commit(batch: [usage("u-0", "sim-1", "1.5")]) == [.committed])
        let outcomes = try await store.commit(batch: [
            usage("u-1", "sim-1", "0.25"), usage("u-0", "sim-1", "100"), usage("u-2", "sim-2", "2"),
            usage("u-1", "sim-1", "100"),
            // Writes a document it expects at version 1 that does not exist: rolled back.
            usage("u-3", "sim-1", "100", document: 1),
            usage("u-4", "sim-2", "0.125", document: 0), usage("u-5", "sim-1", "0.25"), usage("u-6", "sim-3", "7"),
        ])
        #expect(
            outcomes == [
                .committed, .alreadyHandled, .committed, .alreadyHandled,
                .versionConflict(kind: "service", key: "acme/sim-1"), .committed, .committed, .committed,
            ])
        func total(_ service: String) -> UsageMonthKey {
            UsageMonthKey(tenantId: "acme", serviceId: service, metric: "gb", month: month)
        }
        #expect(
            try await store.usageTotals(of: [total("sim-1"), total("sim-2"), total("sim-3")]) == [
                total("sim-1"): dec("2"), total("sim-2"): dec("2.125"), total("sim-3"): dec("7"),
            ])
        #expect(
            try await store.handledMessages(among: (0...6).map { "u-\($0)" }) == [
                "u-0", "u-1", "u-2", "u-4", "u-5", "u-6",
            ])
        let published = try await store.claimOutbox(limit: 20, claimant: "relay-a", lease: .seconds(60))
        #expect(published.map(\.message.messageId) == ["u-0", "u-1", "u-2", "u-4", "u-5", "u-6"].map { "rated-\($0)" })
        #expect(published.map(\.id) == published.map(\.id).sorted())
        // Units together carry a total from one to the next.
        #expect(
            try await store.commit(together: [usage("t-1", "sim-3", "1"), usage("t-2", "sim-3", "2")]) == .committed)
        #expect(try await store.usageTotals(of: [total("sim-3")]) == [total("sim-3"): dec("10")])
        try await store.close()
    }

    @Test(
        "Usage committed together adds every unit's quantity to its total once, stored or new, in any month and metric; a repeat, stored or within the units, rolls all of it back",
        arguments: Backend.allCases)
    func usageTogether(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.rating)
        store.handOffOutbox(to: "relay-a", lease: .seconds(60))
        let march = CalendarDate(year: 2025, month: 3, day: 1)!
        let april = CalendarDate(year: 2025, month: 4, day: 1)!
        func key(_ service: String, _ month: CalendarDate, metric: String = "gb") -> UsageMonthKey {
            UsageMonthKey(tenantId: "acme", serviceId: service, metric: metric, month: month)
        }
        func usage(_ id: String, _ adds: [(UsageMonthKey, String)], event: Bool = false) -> UnitOfWork {
            usageUnit(id, adding: adds, event: event, speaksForBatch: event)
        }
        #expect(try await store.commit(usage("u-0", [(key("sim-1", march), "1.5")])) == .committed)
        let together = [
            usage("u-1", [(key("sim-1", march), "0.25"), (key("sim-1", march, metric: "sms"), "3")]),
            usage("u-2", [(key("sim-2", march), "2")]),
            usage("u-3", [(key("sim-1", april), "0.125"), (key("sim-1", march), "0.25")]),
            usage("u-4", [(key("sim-2", march), "0.001")], event: true),
        ]
        #expect(try await store.commit(together: together) == .committed)
        let keys = [key("sim-1", march), key("sim-1", march, metric: "sms"), key("sim-2", march), key("sim-1", april)]
        let expected = [
            key("sim-1", march): dec("2"), key("sim-1", march, metric: "sms"): dec("3"),
            key("sim-2", march): dec("2.001"),
            key("sim-1", april): dec("0.125"),
        ]
        #expect(try await store.usageTotals(of: keys) == expected)
        // A repeat stored before, anywhere among the units, and one repeated within them.
        for repeated in [
            [usage("u-5", [(key("sim-2", march), "1")]), usage("u-2", [(key("sim-2", march), "1")])],
            [usage("u-6", [(key("sim-1", march), "1")]), usage("u-6", [(key("sim-1", march), "1")], event: true)],
        ] {
            #expect(try await store.commit(together: repeated) == .alreadyHandled)
        }
        #expect(try await store.usageTotals(of: keys) == expected)
        #expect(
            try await store.handledMessages(among: (0...6).map { "u-\($0)" }) == ["u-0", "u-1", "u-2", "u-3", "u-4"])
        let published = try await store.claimOutbox(limit: 20, claimant: "relay-a", lease: .seconds(60))
        #expect(published.map(\.message.messageId) == ["rated-u-4"])
        try await store.close()
    }

    @Test(
        "A total's limit holds in the commit: the unit that would pass it is refused as a conflict, alone, within a batch (the rest land), or together (none does); reaching it exactly lands",
        arguments: Backend.allCases)
    func usageLimit(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.rating)
        let month = CalendarDate(year: 2025, month: 3, day: 1)!
        let key = UsageMonthKey(tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month)
        let pastLimit = CommitOutcome.versionConflict(kind: "usage_total", key: "acme/sim-1/gb/2025-03-01")
        func usage(_ id: String, _ quantity: String, service: String = "sim-1") -> UnitOfWork {
            usageUnit(
                id,
                adding: [(UsageMonthKey(tenantId: "acme", serviceId: service, metric: "gb", month: month), quantity)],
                maximumTotal: "10")
        }
        #expect(try await store.commit(usage("u-1", "11")) == pastLimit)
        #expect(try await store.commit(usage("u-2", "6")) == .committed)
        #expect(try await store.commit(usage("u-3", "5")) == pastLimit)
        #expect(
            try await store.commit(batch: [usage("u-4", "5"), usage("u-5", "2", service: "sim-2"), usage("u-6", "3")])
                == [pastLimit, .committed, .committed])
        #expect(
            try await store.commit(together: [usage("u-7", "0.5", service: "sim-2"), usage("u-8", "2")]) == pastLimit)
        #expect(try await store.commit(together: [usage("u-9", "0.5"), usage("u-10", "0.5")]) == .committed)
        let other = UsageMonthKey(tenantId: "acme", serviceId: "sim-2", metric: "gb", month: month)
        #expect(try await store.usageTotals(of: [key, other]) == [key: dec("10"), other: dec("2")])
        #expect(
            try await store.handledMessages(among: (1...10).map { "u-\($0)" }) == [
                "u-2", "u-5", "u-6", "u-9", "u-10",
            ])
        #expect(try await store.outboxBacklog() == 5)
        try await store.close()
    }
}
