import BillingDomain
import CovenantMessages
import Crypto
import DocumentsWorker
import Foundation
import Testing
import WorkerRuntime
import WorkerStores

@Suite("The documents worker: each final invoice typeset once and kept", .serialized)
struct DocumentsHandlerTests {
    static func event(_ type: String, _ id: String, _ data: String) throws -> CloudEvent {
        CloudEvent(
            id: id, source: "tests", type: type, time: "2025-02-01T00:00:00Z", tenantId: "acme",
            data: try #require(JSONValue.parse(Array(data.utf8))))
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

    @Test(
        "invoice.ready: a PDF in the tenant's brand, its SHA-256 in invoice.document_ready; again: the same bytes, nothing new"
    )
    func renderedOnce() async throws {
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-documents-\(UUID().uuidString)", role: .documents)
        try await store.migrate()
        let typesetter = TypesetterTests.typesetter()
        defer { typesetter.stop() }
        let handler = DocumentsHandler(
            store: store, events: EventFactory(source: "covenant/documents"), typesetter: typesetter,
            now: { "2025-02-01T00:00:01Z" })
        let tenant = try Self.event(
            "tenant.updated", "t-1",
            ##"{"revision":1,"invoice_profile":{"legal_name":"Acme Cloud Pvt Ltd","accent_color":"#0B6E4F"},"taxes":[{"code":"cgst","name":"CGST","rate":"9","default":true}]}"##
        )
        _ = try await Self.commit(try await handler.handle(tenant), "t-1", in: store)
        let customer = try Self.event("customer.updated", "c-1", #"{"customer_id":"cust-1","name":"Globex"}"#)
        _ = try await Self.commit(try await handler.handle(customer), "c-1", in: store)
        let ready = try #require(JSONValue.parse(Array(TypesetterTests.invoice.utf8)))
        let invoice = CloudEvent(
            id: "i-1", source: "tests", type: "invoice.ready", time: "2025-02-01T00:00:00Z", tenantId: "acme",
            data: ready)
        let published = try await Self.commit(try await handler.handle(invoice), "i-1", in: store)
        let notice = try #require(published.first { $0.type == "invoice.document_ready" })
        let stored = try #require(
            try await store.document(kind: DocumentsHandler.pdfKind, key: "acme/INV-cust-1-20250201-INR"))
        let digest = SHA256.hash(data: stored.body).map { String(format: "%02x", $0) }.joined()
        guard case .array(let documents)? = notice.data["documents"], let pdf = documents.first else {
            Issue.record("no documents")
            return
        }
        #expect(pdf["sha256"] == .string(digest) && pdf["bytes"] == .number(String(stored.body.count)))
        #expect(pdf["media_type"] == .string("application/pdf") && notice.data["number"] == .string("INV-000001"))
        let text = try TypesetterTests.text(of: stored.body)
        #expect(text.contains("Acme Cloud Pvt Ltd") && text.contains("Globex") && text.contains("INR 582.39"))
        #expect(!text.lowercased().contains("covenant"))
        // Delivered again (another replica, a replay): the kept document stands, nothing is sent.
        let again = try await Self.commit(try await handler.handle(invoice), "i-2", in: store)
        #expect(again.isEmpty)
        #expect(
            try await store.document(kind: DocumentsHandler.pdfKind, key: "acme/INV-cust-1-20250201-INR")?.body
                == stored.body)
    }
}
