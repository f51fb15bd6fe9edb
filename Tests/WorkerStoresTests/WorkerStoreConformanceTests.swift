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
}
