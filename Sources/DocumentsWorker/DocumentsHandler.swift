import BillingDomain
public import CovenantMessages
import Crypto
import InvoiceDocuments
public import Logging
public import WorkerRuntime
public import WorkerStores

/// Documents: every final invoice typeset once, in its tenant's brand, and kept byte for byte;
/// `invoice.document_ready` names it with its SHA-256. Keeps what a document shows of the
/// tenant (`tenant.updated`'s invoicing settings, by revision) and of each customer
/// (`customer.updated`). Invoices never wait for their documents: this worker follows them.
public struct DocumentsHandler: MessageHandler {
    let store: any DocumentStore
    let events: EventFactory
    let typesetter: Typesetter
    let now: @Sendable () -> String
    let logger: Logger

    public init(
        store: any DocumentStore, events: EventFactory, typesetter: Typesetter, now: @escaping @Sendable () -> String,
        logger: Logger = Logger(label: "covenant.documents")
    ) {
        self.store = store
        self.events = events
        self.typesetter = typesetter
        self.now = now
        self.logger = logger
    }

    public static let commands: [String] = []
    public static let subscribedEvents = ["tenant.updated", CustomerUpsert.updated, "invoice.ready"]
    public static let documentReady = "invoice.document_ready"
    /// A document's kind in the store, by media type.
    public static let pdfKind = "invoice-pdf"

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        do {
            switch event.type {
            case "tenant.updated": return try await keepSettings(event)
            case CustomerUpsert.updated: return try await keepCustomer(event)
            default: return try await document(event)
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    static func key(_ tenant: String, _ id: String) -> String { "\(tenant)/\(id)" }

    func keepSettings(_ event: CloudEvent) async throws -> HandlerOutcome {
        .commit(
            UnitOfWork(messageId: nil, documents: try await BatchDocuments.tenantSettings(in: store).keeping(event)))
    }

    func keepCustomer(_ event: CloudEvent) async throws -> HandlerOutcome {
        let customer = try Fields(event.data, path: "data").string("customer_id")
        _ = try CustomerUpsert.profile(stored: event.data).get()
        return .commit(
            try await store.replacing(kind: "customer", key: Self.key(event.tenantId, customer), with: event.data))
    }

    private func typeset(_ data: [UInt8]) async -> Result<[UInt8], Typesetter.Failure> {
        do throws(Typesetter.Failure) {
            return .success(try await typesetter.typeset(data))
        } catch {
            return .failure(error)
        }
    }

    /// `invoice.ready`: the invoice's PDF, once.
    func document(_ event: CloudEvent) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let invoice = try Fields(event.data, path: "data")
        let invoiceId = try invoice.string("invoice_id")
        let key = Self.key(tenant, invoiceId)
        if try await store.document(kind: Self.pdfKind, key: key) != nil {
            return .commit(UnitOfWork(messageId: nil))  // rendered already: kept as it is
        }
        let settings = try await BatchDocuments.tenantSettings(in: store).value(tenant)?.settings
        let customer = try await BatchDocuments.customerProfiles(in: store).value(
            Self.key(tenant, try invoice.string("customer_id")))
        let model = try InvoiceDocument.model(
            invoice: event.data, settings: settings ?? TenantBillingSettings(), customer: customer)
        let pdf: [UInt8]
        switch await typeset(model.serialized()) {
        case .success(let bytes): pdf = bytes
        case .failure(.refused(let message)):
            throw Rejection(.invalidMessage, "invoice \(invoiceId) cannot be typeset: \(message)")
        case .failure(let unavailable): throw unavailable
        }
        let digest = SHA256.hash(data: pdf).hexDigits
        let ready: JSONValue = .object([
            "invoice_id": .string(invoiceId), "number": .string(try invoice.string("number")),
            "documents": .array([
                .object([
                    "media_type": .string("application/pdf"), "sha256": .string(digest),
                    "bytes": .number(String(pdf.count)), "path": .string("/v1/invoices/\(invoiceId)/document.pdf"),
                ])
            ]),
        ])
        return .commit(
            UnitOfWork(
                messageId: nil,
                // A fresh document: a second rendering (another replica) conflicts and finds this one.
                documents: [DocumentWrite(kind: Self.pdfKind, key: key, body: pdf, expectedVersion: 0)],
                outbox: [
                    events.event(
                        Self.documentReady, tenantId: tenant, causationId: event.id, data: ready, time: now(),
                        key: invoiceId)
                ]))
    }
}
