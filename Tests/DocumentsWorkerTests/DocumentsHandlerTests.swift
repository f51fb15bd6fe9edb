import BillingDomain
import CovenantMessages
import Crypto
import DocumentsWorker
import Foundation
import InvoiceDocuments
import Testing
import WorkerRuntime
import WorkerStores

@Suite("The documents worker: each final invoice as HTML and PDF, once, as the tenant stood", .serialized)
struct DocumentsHandlerTests {
    static func event(_ type: String, _ id: String, _ data: JSONValue) -> CloudEvent {
        CloudEvent(id: id, source: "tests", type: type, time: "2025-02-01T00:00:00Z", tenantId: "acme", data: data)
    }

    static func tenant(revision: Int, legalName: String) throws -> CloudEvent {
        let text =
            ##"{"revision":\##(revision),"invoice_profile":{"legal_name":"\##(legalName)","accent_color":"#0B6E4F"},"taxes":[{"code":"cgst","name":"CGST","rate":"9","default":true}]}"##
        return event("tenant.updated", "t-\(revision)", try #require(JSONValue.parse(Array(text.utf8))))
    }

    static func invoice(_ id: String, revision: Int?, messageId: String) throws -> CloudEvent {
        var data = try #require(JSONValue.parse(Array(TypesetterTests.invoice.utf8))).adding([
            "invoice_id": .string(id), "customer": .object(["name": .string("Globex")]),
        ])
        if let revision { data = data.adding(["tenant_revision": .number(String(revision))]) }
        return event("invoice.ready", messageId, data)
    }

    /// Commits a unit as the runtime would, and returns its outbox's events.
    static func commit(
        _ outcome: HandlerOutcome, _ id: String, in store: SQLiteWorkerStore
    ) async throws -> [CloudEvent] {
        guard case .commit(var unit) = outcome else {
            Issue.record("not committed: \(outcome)")
            return []
        }
        unit.messageId = id
        #expect(try await store.commit(unit) == .committed)
        return try unit.outbox.map { try CloudEvent.decode($0.body).get() }
    }

    static func handler() async throws -> (DocumentsHandler, SQLiteWorkerStore, TypesetterPool) {
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-documents-\(UUID().uuidString)", role: .documents)
        try await store.migrate()
        let pool = TypesetterPool(count: 2, configuration: TypesetterTests.typesetter().configuration)
        let handler = DocumentsHandler(
            store: store, events: EventFactory(source: "covenant/documents"), typesetters: pool,
            html: try InvoiceHTML(
                template: try String(contentsOfFile: "\(TypesetterTests.root)/templates/invoice.html", encoding: .utf8)),
            now: { "2025-02-01T00:00:01Z" })
        return (handler, store, pool)
    }

    @Test(
        "invoice.ready: a PDF and its HTML, each's SHA-256 in invoice.document_ready; again: the same bytes, nothing new"
    )
    func renderedOnce() async throws {
        let (handler, store, pool) = try await Self.handler()
        defer { pool.stop() }
        _ = try await Self.commit(
            try await handler.handle(try Self.tenant(revision: 1, legalName: "Acme Cloud")), "t-1", in: store)
        let invoice = try Self.invoice("INV-1", revision: 1, messageId: "i-1")
        let published = try await Self.commit(try await handler.handle(invoice), "i-1", in: store)
        let notice = try #require(published.first { $0.type == "invoice.document_ready" })
        guard case .array(let documents)? = notice.data["documents"], documents.count == 2 else {
            Issue.record("not two documents: \(notice.data)")
            return
        }
        let pdf = try #require(try await store.document(kind: DocumentsHandler.pdfKind, key: "acme/INV-1"))
        let page = try #require(try await store.document(kind: DocumentsHandler.htmlKind, key: "acme/INV-1"))
        for (described, stored, type, path) in [
            (documents[0], pdf, "application/pdf", "/v1/invoices/INV-1/document.pdf"),
            (documents[1], page, "text/html", "/v1/invoices/INV-1/document.html"),
        ] {
            #expect(described["sha256"] == .string(SHA256.hash(data: stored.body).hexDigits))
            #expect(described["bytes"] == .number(String(stored.body.count)))
            #expect(described["media_type"] == .string(type) && described["path"] == .string(path))
        }
        #expect(notice.data["number"] == .string("INV-000001") && notice.causationId == "i-1")
        let text = try TypesetterTests.text(of: pdf.body)
        #expect(text.contains("Acme Cloud") && text.contains("Globex") && text.contains("INR 582.39"))
        #expect(!text.lowercased().contains("covenant"))
        #expect(String(decoding: page.body, as: UTF8.self).contains("Acme Cloud"))
        // Delivered again (another replica, a replay): the kept documents stand, nothing is sent.
        let again = try await Self.commit(try await handler.handle(invoice), "i-2", in: store)
        #expect(again.isEmpty)
        #expect(try await store.document(kind: DocumentsHandler.pdfKind, key: "acme/INV-1")?.body == pdf.body)
    }

    @Test(
        "A document shows the tenant of the invoice's revision, not a later one; a revision not come yet is waited for")
    func revisionAtIssue() async throws {
        let (handler, store, pool) = try await Self.handler()
        defer { pool.stop() }
        // Revision 2 arrives first (a rename after the invoice became final under revision 1).
        _ = try await Self.commit(
            try await handler.handle(try Self.tenant(revision: 2, legalName: "Renamed Ltd")), "t-2", in: store)
        let invoice = try Self.invoice("INV-1", revision: 1, messageId: "i-1")
        guard case .rejectUnlessItArrives(let rejection, _, _) = try await handler.handle(invoice) else {
            Issue.record("rendered without the settings of revision 1")
            return
        }
        #expect(rejection.code == .unknownTenant)
        #expect(try await store.document(kind: DocumentsHandler.pdfKind, key: "acme/INV-1") == nil)
        _ = try await Self.commit(
            try await handler.handle(try Self.tenant(revision: 1, legalName: "Acme Cloud")), "t-1", in: store)
        _ = try await Self.commit(try await handler.handle(invoice), "i-1", in: store)
        let pdf = try #require(try await store.document(kind: DocumentsHandler.pdfKind, key: "acme/INV-1"))
        let text = try TypesetterTests.text(of: pdf.body)
        #expect(text.contains("Acme Cloud") && !text.contains("Renamed"))
    }

    @Test("A run of invoices typeset at once over the pool, in order; the same invoice twice in a run is rendered once")
    func batch() async throws {
        let (handler, store, pool) = try await Self.handler()
        defer { pool.stop() }
        _ = try await Self.commit(
            try await handler.handle(try Self.tenant(revision: 1, legalName: "Acme Cloud")), "t-1", in: store)
        var events = try (1...6).map { try Self.invoice("INV-\($0)", revision: 1, messageId: "i-\($0)") }
        events.append(try Self.invoice("INV-3", revision: 1, messageId: "i-3b"))
        let outcomes = try await handler.handle(batch: events)
        #expect(outcomes.count == 7)
        var noticed: [String] = []
        for (index, outcome) in outcomes.enumerated() {
            noticed += try await Self.commit(outcome, events[index].id, in: store).compactMap {
                if case .string(let id)? = $0.data["invoice_id"] { id } else { nil }
            }
        }
        #expect(noticed == (1...6).map { "INV-\($0)" })
        #expect(pool.processesStarted == 2)
    }
}
