import BillingDomain
import Foundation
import Testing
import WorkerStores

@Suite("Worker store conformance: SQLite and PostgreSQL")
struct WorkerStoreConformanceTests {
    @Test("Migrations run twice change nothing, and all five roles migrate", arguments: Backend.allCases)
    func migrateTwice(backend: Backend) async throws {
        for role in StoreRole.allCases {
            let (store, _) = try await backend.freshStore(role)
            try await store.migrate()
            #expect(try await store.commit(UnitOfWork(messageId: "m-1", outbox: [message("e-1")])) == .committed)
            try await store.close()
        }
    }

    @Test("Replicas starting together migrate once", arguments: Backend.allCases)
    func concurrentMigrations(backend: Backend) async throws {
        let location = backend.newLocation()
        let replicas = try (0..<4).map { _ in try backend.store(.rating, at: location) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for replica in replicas { group.addTask { try await replica.migrate() } }
            try await group.waitForAll()
        }
        #expect(try await replicas[0].commit(UnitOfWork(messageId: "m", usage: [])) == .committed)
        for replica in replicas { try await replica.close() }
    }

    @Test("A repeated message id changes nothing: the whole unit is rolled back", arguments: Backend.allCases)
    func repeatedMessage(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore()
        let first = UnitOfWork(
            messageId: "cmd-1",
            documents: [DocumentWrite(kind: "ledger", key: "acme/cust-1", body: Array("v1".utf8), expectedVersion: 0)],
            outbox: [message("evt-1")])
        #expect(try await store.commit(first) == .committed)
        #expect(try await store.hasHandled(messageId: "cmd-1"))
        let repeatWithOtherEffects = UnitOfWork(
            messageId: "cmd-1",
            documents: [DocumentWrite(kind: "ledger", key: "acme/cust-2", body: Array("x".utf8), expectedVersion: 0)],
            outbox: [message("evt-2")])
        #expect(try await store.commit(repeatWithOtherEffects) == .alreadyHandled)
        #expect(try await store.document(kind: "ledger", key: "acme/cust-2") == nil)
        #expect(try await store.outboxBacklog() == 1)
        try await store.close()
    }

    @Test("Documents are versioned: a stale write is a conflict and rolls back the unit", arguments: Backend.allCases)
    func versions(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore()
        func write(_ body: String, expecting version: Int64, message id: String) async throws -> CommitOutcome {
            try await store.commit(
                UnitOfWork(
                    messageId: id,
                    documents: [
                        DocumentWrite(
                            kind: "contract", key: "acme/c-1", body: Array(body.utf8), expectedVersion: version)
                    ],
                    outbox: [message("evt-\(id)")]))
        }
        #expect(try await write("first", expecting: 0, message: "a") == .committed)
        #expect(
            try await write("again new", expecting: 0, message: "b")
                == .versionConflict(kind: "contract", key: "acme/c-1"))
        #expect(try await write("second", expecting: 1, message: "c") == .committed)
        #expect(
            try await write("stale", expecting: 1, message: "d") == .versionConflict(kind: "contract", key: "acme/c-1"))
        let stored = try #require(try await store.document(kind: "contract", key: "acme/c-1"))
        #expect(stored.version == 2 && stored.body == Array("second".utf8))
        // The conflicting units left no trace: not in the inbox, nothing in the outbox.
        #expect(try await store.hasHandled(messageId: "b") == false)
        #expect(try await store.hasHandled(messageId: "d") == false)
        #expect(try await store.handledMessages(among: ["a", "b", "c", "d", "e"]) == ["a", "c"])
        #expect(try await store.handledMessages(among: []) == [])
        let awkward = ["q\"uote", "back\\slash", "🧾"]
        for id in awkward { _ = try await store.commit(UnitOfWork(messageId: id)) }
        #expect(try await store.handledMessages(among: awkward + ["q", "back", "a", "b"]) == Set(awkward + ["a"]))
        #expect(try await store.outboxBacklog() == 2)
        try await store.close()
    }

    @Test(
        "Units committed together land all or none: a later write over an earlier one's version lands; a conflict or a repeat anywhere rolls back every unit",
        arguments: Backend.allCases)
    func together(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore()
        func unit(_ id: String, _ body: String, expecting version: Int64, key: String = "acme/c-1") -> UnitOfWork {
            UnitOfWork(
                messageId: id,
                documents: [DocumentWrite(kind: "ledger", key: key, body: Array(body.utf8), expectedVersion: version)],
                outbox: [message("evt-\(id)")])
        }
        // Each write over the version the one before it makes.
        #expect(
            try await store.commit(together: [unit("a", "one", expecting: 0), unit("b", "two", expecting: 1)])
                == .committed)
        var stored = try #require(try await store.document(kind: "ledger", key: "acme/c-1"))
        #expect(stored.version == 2 && stored.body == Array("two".utf8))
        // A stale write in the last unit: the first unit, valid alone, does not land either.
        #expect(
            try await store.commit(together: [
                unit("c", "new", expecting: 0, key: "acme/c-2"), unit("d", "stale", expecting: 1),
            ]) == .versionConflict(kind: "ledger", key: "acme/c-1"))
        // A repeated message in the last unit: the same.
        #expect(
            try await store.commit(together: [
                unit("e", "new", expecting: 0, key: "acme/c-2"), unit("a", "x", expecting: 2),
            ])
                == .alreadyHandled)
        #expect(try await store.document(kind: "ledger", key: "acme/c-2") == nil)
        stored = try #require(try await store.document(kind: "ledger", key: "acme/c-1"))
        #expect(stored.version == 2 && stored.body == Array("two".utf8))
        #expect(try await store.handledMessages(among: ["a", "b", "c", "d", "e"]) == ["a", "b"])
        #expect(try await store.outboxBacklog() == 2)
        try await store.close()
    }

    @Test(
        "A batch lands as unit by unit would land it: a document several units write ends at the last write, records keep their order; a broken chain of writes, a stale document or a repeat gives each unit its own outcome and nothing of the others is lost",
        arguments: Backend.allCases)
    func batchOfDocuments(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.invoicing)
        store.handOffOutbox(to: "relay-a", lease: .seconds(60))
        func unit(
            _ id: String, _ key: String, _ body: String, expecting version: Int64, invoiced: Bool = false
        )
            -> UnitOfWork
        {
            UnitOfWork(
                messageId: id,
                documents: [DocumentWrite(kind: "ledger", key: key, body: Array(body.utf8), expectedVersion: version)],
                invoices: invoiced
                    ? [
                        StoredInvoice(
                            tenantId: "acme", invoiceId: "INV-\(id)", customerId: key, currency: "BHD",
                            issueDate: CalendarDate(year: 2025, month: 2, day: 1)!, subtotal: dec("100.125"),
                            discountTotal: dec("0.005"), total: dec("100.12"), body: Array(id.utf8))
                    ] : [],
                outbox: [message("evt-\(id)"), message("evt-\(id)-2")])
        }
        func expectLedger(_ key: String, version: Int64, _ body: String) async throws {
            let stored = try #require(try await store.document(kind: "ledger", key: key))
            #expect(stored.version == version && stored.body == Array(body.utf8), "ledger \(key)")
        }
        // Every unit lands: c-1 is written three times, each write over the one before.
        #expect(
            try await store.commit(batch: [
                unit("a", "c-1", "one", expecting: 0, invoiced: true), unit("b", "c-2", "x", expecting: 0),
                unit("c", "c-1", "two", expecting: 1), unit("d", "c-1", "three", expecting: 2, invoiced: true),
            ]) == [.committed, .committed, .committed, .committed])
        try await expectLedger("c-1", version: 3, "three")
        try await expectLedger("c-2", version: 1, "x")
        for id in ["a", "d"] {
            let invoice = try #require(try await store.invoice(tenantId: "acme", invoiceId: "INV-\(id)"))
            #expect(invoice.total == dec("100.12") && invoice.body == Array(id.utf8))
        }
        // A write that does not follow the one before it, and a repeat: each unit on its own.
        #expect(
            try await store.commit(batch: [
                unit("e", "c-1", "four", expecting: 3), unit("f", "c-1", "stale", expecting: 3),
                unit("a", "c-2", "y", expecting: 1), unit("g", "c-2", "z", expecting: 1),
            ]) == [.committed, .versionConflict(kind: "ledger", key: "c-1"), .alreadyHandled, .committed])
        // Writes that follow each other, one over a stale version: the others still land.
        #expect(
            try await store.commit(batch: [
                unit("h", "c-3", "new", expecting: 0), unit("i", "c-1", "stale", expecting: 1),
                unit("j", "c-3", "next", expecting: 1),
            ]) == [.committed, .versionConflict(kind: "ledger", key: "c-1"), .committed])
        try await expectLedger("c-1", version: 4, "four")
        try await expectLedger("c-2", version: 2, "z")
        try await expectLedger("c-3", version: 2, "next")
        let landed = ["a", "b", "c", "d", "e", "g", "h", "j"]
        #expect(try await store.handledMessages(among: landed + ["f", "i"]) == Set(landed))
        let published = try await store.claimOutbox(limit: 40, claimant: "relay-a", lease: .seconds(60))
        #expect(published.map(\.message.messageId) == landed.flatMap { ["evt-\($0)", "evt-\($0)-2"] })
        #expect(published.map(\.id) == published.map(\.id).sorted())
        try await store.close()
    }

    @Test(
        "Keys are the bytes the database holds: ids Swift takes as equal (é composed, and e with a combining accent) stay two documents and two totals within one batch",
        arguments: Backend.allCases)
    func keysByBytes(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.rating)
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        let month = CalendarDate(year: 2025, month: 3, day: 1)!
        func key(_ service: String) -> UsageMonthKey {
            UsageMonthKey(tenantId: "acme", serviceId: service, metric: "gb", month: month)
        }
        func write(_ id: String, _ service: String, expecting version: Int64) -> UnitOfWork {
            usageUnit(
                id, adding: [(key(service), "1.5")],
                documents: [
                    DocumentWrite(kind: "service", key: service, body: Array(id.utf8), expectedVersion: version)
                ])
        }
        // The second unit expects the first's write of "its" document: the database holds no
        // such document, so that unit alone is refused.
        #expect(
            try await store.commit(batch: [write("a", composed, expecting: 0), write("b", decomposed, expecting: 1)])
                == [.committed, .versionConflict(kind: "service", key: decomposed)])
        #expect(
            try await store.commit(batch: [write("c", decomposed, expecting: 0), write("d", composed, expecting: 1)])
                == [.committed, .committed])
        let first = try #require(try await store.document(kind: "service", key: composed))
        let second = try #require(try await store.document(kind: "service", key: decomposed))
        #expect(first.version == 2 && first.body == Array("d".utf8))
        #expect(second.version == 1 && second.body == Array("c".utf8))
        // Totals: together, each its own.
        #expect(
            try await store.commit(together: [
                usageUnit("e", adding: [(key(composed), "1")]), usageUnit("f", adding: [(key(decomposed), "2")]),
            ]) == .committed)
        let totals = try await store.usageTotals(of: [key(composed), key(decomposed)])
        #expect(totals.count == 2)
        #expect(totals[key(composed)] == dec("4") && totals[key(decomposed)] == dec("3.5"))
        try await store.close()
    }

    @Test("Documents list by kind and key prefix, in key order", arguments: Backend.allCases)
    func documentPrefix(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.provisioning)
        // Bytewise key order: "Z" < "a" < "é"; 1,005 keys of acme's take two pages of the full read.
        let many = (0..<1_001).map { "acme/m-\($0)" }
        let keys = ["acme/c-2", "acme/c-10", "acme/c-1", "beta/c-1", "acme/Zé", "acme/é"] + many
        _ = try await store.commit(
            UnitOfWork(
                messageId: nil,
                documents: keys.map {
                    DocumentWrite(kind: "contract", key: $0, body: Array($0.utf8), expectedVersion: 0)
                }
                    + [DocumentWrite(kind: "tenant", key: "acme/x", body: [1], expectedVersion: 0)]))
        let acme = try await store.documents(kind: "contract", keyPrefix: "acme/")
        let expected = ["acme/Zé", "acme/c-1", "acme/c-10", "acme/c-2"] + many.sorted() + ["acme/é"]
        #expect(acme.map(\.key) == expected)
        // A page: after a key, at most `limit`.
        let page = try await store.documents(kind: "contract", keyPrefix: "acme/", after: "acme/c-10", limit: 2)
        #expect(page.map(\.key) == ["acme/c-2", many.sorted()[0]])
        let last = try await store.documents(kind: "contract", keyPrefix: "acme/", after: many.sorted().last, limit: 5)
        #expect(last.map(\.key) == ["acme/é"])
        #expect(try await store.documents(kind: "contract", keyPrefix: "acme/é", after: nil, limit: 5).count == 1)
        // Read by keys at once: the ones that exist, of that kind only.
        let some = try await store.documents(kind: "contract", keys: ["acme/c-10", "beta/c-1", "acme/x", "none"])
        #expect(Set(some.keys) == ["acme/c-10", "beta/c-1"])
        #expect(some["beta/c-1"]?.body == Array("beta/c-1".utf8) && some["beta/c-1"]?.version == 1)
        #expect(try await store.documents(kind: "contract", keys: []).isEmpty)
        // Keys that JSON must escape, and every one of 1,001 at once, each read back by its own
        // text (SQLite passes the keys as one JSON array).
        let awkward = ["acme/q\"uote", "acme/back\\slash", "acme/tab\tline\n", "acme/🧾", "acme/[1]"]
        _ = try await store.commit(
            UnitOfWork(
                messageId: nil,
                documents: awkward.map {
                    DocumentWrite(kind: "contract", key: $0, body: Array($0.utf8), expectedVersion: 0)
                }))
        let read = try await store.documents(kind: "contract", keys: awkward + ["acme/q", "acme/back"])
        #expect(Set(read.keys) == Set(awkward) && read.allSatisfy { $0.value.body == Array($0.key.utf8) })
        #expect(Set(try await store.documents(kind: "contract", keys: many + many).keys) == Set(many))
        try await store.close()
    }

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

    @Test("Invoices keep their exact totals", arguments: Backend.allCases)
    func invoices(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.invoicing)
        let invoice = StoredInvoice(
            tenantId: "acme", invoiceId: "INV-cust-1-20250201-BHD", customerId: "cust-1", currency: "BHD",
            issueDate: CalendarDate(year: 2025, month: 2, day: 1)!, subtotal: dec("999999999999.999"),
            discountTotal: dec("54.839"), total: dec("999999999945.16"), body: Array(#"{"lines":[]}"#.utf8))
        #expect(try await store.commit(UnitOfWork(messageId: "run-1", invoices: [invoice])) == .committed)
        #expect(try await store.invoice(tenantId: "acme", invoiceId: invoice.invoiceId) == invoice)
        #expect(try await store.invoice(tenantId: "other", invoiceId: invoice.invoiceId) == nil)
        try await store.close()
    }

    @Test("The delivery log keeps every attempt in order", arguments: Backend.allCases)
    func deliveries(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.notification)
        let attempts = [
            DeliveryRecord(
                eventId: "e-1", target: "https://hooks.example/a", attempt: 1, status: "failed", responseCode: 503,
                at: 1_736_000_000),
            DeliveryRecord(
                eventId: "e-1", target: "https://hooks.example/a", attempt: 2, status: "delivered", responseCode: 200,
                at: 1_736_000_030),
            DeliveryRecord(
                eventId: "e-1", target: "https://hooks.example/b", attempt: 1, status: "failed", responseCode: nil,
                at: 1_736_000_001),
        ]
        for (index, attempt) in attempts.enumerated() {
            _ = try await store.commit(UnitOfWork(messageId: "d-\(index)", deliveries: [attempt]))
        }
        #expect(
            try await store.deliveries(eventId: "e-1")
                == attempts.sorted { ($0.target, $0.attempt) < ($1.target, $1.attempt) })
        // The same attempts of another event, committed in one batch.
        let batched = attempts.map { attempt in
            var attempt = attempt
            attempt.eventId = "e-2"
            return attempt
        }
        #expect(
            try await store.commit(
                batch: batched.indices.map { UnitOfWork(messageId: "b-\($0)", deliveries: [batched[$0]]) })
                == [.committed, .committed, .committed])
        #expect(
            try await store.deliveries(eventId: "e-2")
                == batched.sorted { ($0.target, $0.attempt) < ($1.target, $1.attempt) })
        try await store.close()
    }

    @Test("Outbox rows are claimed oldest first, leased, and published once", arguments: Backend.allCases)
    func outboxClaims(backend: Backend) async throws {
        let (store, _) = try await backend.freshStore()
        _ = try await store.commit(
            UnitOfWork(messageId: "m", outbox: [message("e-1", body: "one"), message("e-2"), message("e-3")]))
        let first = try await store.claimOutbox(limit: 2, claimant: "relay-a", lease: .seconds(60))
        #expect(first.map(\.message.messageId) == ["e-1", "e-2"])
        #expect(first[0].message.body == Array("one".utf8) && first[0].message.routingKey == "invoice.ready")
        // Leased rows are not handed to another relay.
        let second = try await store.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(second.map(\.message.messageId) == ["e-3"])
        try await store.markSent(ids: first.map(\.id) + second.map(\.id))
        #expect(try await store.outboxBacklog() == 0)
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)
        try await store.close()
    }

    @Test(
        "Rows committed but never published (the relay died) are published after the lease, once",
        arguments: Backend.allCases)
    func crashBetweenCommitAndPublish(backend: Backend) async throws {
        let (store, location) = try await backend.freshStore()
        _ = try await store.commit(UnitOfWork(messageId: "m", outbox: [message("e-1"), message("e-2")]))
        // A relay claims the rows and dies before publishing: it never marks them sent.
        let lost = try await store.claimOutbox(limit: 10, claimant: "relay-dead", lease: .milliseconds(300))
        #expect(lost.count == 2)
        try await store.close()
        // Another process opens the store after the lease ran out and publishes them.
        try await Task.sleep(for: .milliseconds(1200))
        let survivor = try backend.store(.invoicing, at: location)
        let reclaimed = try await survivor.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(reclaimed.map(\.message.messageId) == ["e-1", "e-2"])
        try await survivor.markSent(ids: reclaimed.map(\.id))
        #expect(try await survivor.claimOutbox(limit: 10, claimant: "relay-c", lease: .seconds(60)).isEmpty)
        try await survivor.close()
    }

    @Test(
        "Rows a commit hands off go to its own relay without a claim; rolled-back units hand nothing; a row left there returns after its lease, or at once when its relay releases it",
        arguments: Backend.allCases)
    func outboxHandoff(backend: Backend) async throws {
        let (store, location) = try await backend.freshStore()
        let other = try backend.store(.invoicing, at: location)
        // Written before the hand-off began: an unclaimed row any relay takes from the table.
        _ = try await store.commit(UnitOfWork(messageId: "old", outbox: [message("e-old")]))
        store.handOffOutbox(to: "relay-a", lease: .seconds(60))
        func unit(_ id: String, expecting version: Int64) -> UnitOfWork {
            UnitOfWork(
                messageId: id,
                documents: [
                    DocumentWrite(kind: "ledger", key: "acme/c-1", body: Array(id.utf8), expectedVersion: version)
                ],
                outbox: [message("e-\(id)", body: "{\"id\":\"\(id)\"}")])
        }
        // A batch: the second unit conflicts and is rolled back to its savepoint; a repeat in a
        // rolled-back commit together: neither hands anything off.
        #expect(
            try await store.commit(batch: [unit("a", expecting: 0), unit("b", expecting: 0), unit("c", expecting: 1)])
                == [.committed, .versionConflict(kind: "ledger", key: "acme/c-1"), .committed])
        #expect(
            try await store.commit(together: [unit("d", expecting: 2), unit("a", expecting: 3)]) == .alreadyHandled)
        // The rows are claimed: another relay, on another connection, gets only the old row.
        let others = try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(others.map(\.message.messageId) == ["e-old"])
        let mine = try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60))
        #expect(mine.map(\.message.messageId) == ["e-a", "e-c"])
        #expect(mine.map(\.message.body) == [Array("{\"id\":\"a\"}".utf8), Array("{\"id\":\"c\"}".utf8)])
        #expect(try await store.outboxBacklog() == 3)
        try await store.markSent(ids: mine.map(\.id) + others.map(\.id))
        #expect(try await store.outboxBacklog() == 0)
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)

        // A relay that stalls: past half the lease its handed rows are given up, and after the
        // lease any relay claims them from the table, once. (Leases of 400 ms, then of 2 s, had
        // run out before the next claim, with the suite and a fault test loading both cores.)
        store.handOffOutbox(to: "relay-a", lease: .seconds(5))
        _ = try await store.commit(UnitOfWork(messageId: "late", outbox: [message("e-late")]))
        #expect(try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60)).isEmpty)
        try await Task.sleep(for: .milliseconds(6000))
        let taken = try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(taken.map(\.message.messageId) == ["e-late"])
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)

        // A relay stopping gives its rows back: another takes them at once, and they are no
        // longer handed to the first.
        store.handOffOutbox(to: "relay-a", lease: .seconds(60))
        _ = try await store.commit(UnitOfWork(messageId: "last", outbox: [message("e-last")]))
        #expect(try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60)).isEmpty)
        #expect(try await store.releaseOutboxClaims(of: "relay-a") == 1)
        let released = try await other.claimOutbox(limit: 10, claimant: "relay-b", lease: .seconds(60))
        #expect(released.map(\.message.messageId) == ["e-last"])
        #expect(try await store.claimOutbox(limit: 10, claimant: "relay-a", lease: .seconds(60)).isEmpty)
        #expect(try await store.releaseOutboxClaims(of: "relay-a") == 0)
        try await other.close()
        try await store.close()
    }

    @Test("Concurrent relays on separate connections never claim a row twice", arguments: Backend.allCases)
    func concurrentRelays(backend: Backend) async throws {
        let (store, location) = try await backend.freshStore()
        let total = 600
        for batch in 0..<(total / 100) {
            _ = try await store.commit(
                UnitOfWork(messageId: "b-\(batch)", outbox: (0..<100).map { message("e-\(batch)-\($0)") }))
        }
        let relays = try (0..<4).map { _ in try backend.store(.invoicing, at: location) }
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for (index, relay) in relays.enumerated() {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await relay.claimOutbox(
                            limit: 17, claimant: "relay-\(index)", lease: .seconds(60))
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                        try await relay.markSent(ids: batch.map(\.id))
                    }
                }
            }
            var all: [Int64] = []
            for try await ids in group { all += ids }
            return all
        }
        #expect(claimed.count == total)
        #expect(Set(claimed).count == total)
        #expect(try await store.outboxBacklog() == 0)
        for relay in relays { try await relay.close() }
        try await store.close()
    }
}
