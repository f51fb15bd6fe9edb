import BillingDomain
public import CovenantMessages
import Crypto
public import InvoiceDocuments
public import Logging
public import WorkerRuntime
public import WorkerStores

/// Documents: every final invoice as HTML and typeset into a PDF, once, in its tenant's brand,
/// and kept byte for byte; `invoice.document_ready` names both with their SHA-256. A document
/// shows the tenant as its settings stood at the revision the invoice became final under (each
/// revision of `tenant.updated` is kept) and the customer as the invoice names it. Invoices
/// never wait for their documents: this worker follows them.
public struct DocumentsHandler: MessageHandler {
    let store: any DocumentStore
    let events: EventFactory
    let typesetters: TypesetterPool
    let html: InvoiceHTML
    let now: @Sendable () -> String
    let logger: Logger

    public init(
        store: any DocumentStore, events: EventFactory, typesetters: TypesetterPool, html: InvoiceHTML,
        now: @escaping @Sendable () -> String, logger: Logger = Logger(label: "covenant.documents")
    ) {
        self.store = store
        self.events = events
        self.typesetters = typesetters
        self.html = html
        self.now = now
        self.logger = logger
    }

    public static let commands: [String] = []
    public static let subscribedEvents = ["tenant.updated", "invoice.ready"]
    public static let documentReady = "invoice.document_ready"
    /// The kinds of an invoice's documents in the store, keyed `tenant/invoice`.
    public static let pdfKind = "invoice-pdf"
    public static let htmlKind = "invoice-html"
    /// Each revision of a tenant's invoicing settings, keyed `tenant/revision`.
    static let settingsKind = "tenant-billing-revision"

    /// A run of `invoice.ready` is typeset at once, over every typesetter of the pool.
    public var batchableTypes: Set<String> { ["invoice.ready"] }
    /// The most invoices typeset and committed together: a fraction of a second's work, a few
    /// MiB of documents.
    public static let batchSize = 64

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        try await handle(batch: [event])[0]
    }

    public func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        // What the run's invoices need, read once for the run: which are rendered already (one
        // query), and each revision of settings they name (once each).
        let keys = events.compactMap { event -> String? in
            guard event.type == "invoice.ready", case .string(let id)? = event.data["invoice_id"] else { return nil }
            return Self.key(event.tenantId, id)
        }
        let rendered = keys.isEmpty ? [:] : try await store.documents(kind: Self.pdfKind, keys: keys)
        let revisions = BatchDocuments.tenantSettings(in: store, kind: Self.settingsKind)
        var outcomes: [HandlerOutcome?] = []
        var work: [(index: Int, document: Pending)] = []
        var claimed: Set<String> = []
        for event in events {
            do {
                switch event.type {
                case "tenant.updated":
                    outcomes.append(.commit(UnitOfWork(messageId: nil, documents: try await keep(event))))
                case "invoice.ready":
                    switch try await pending(event, rendered: rendered, revisions: revisions) {
                    case .ready(let document) where claimed.insert(document.key).inserted:
                        outcomes.append(nil)
                        work.append((outcomes.count - 1, document))
                    case .ready, .rendered:  // kept already, or earlier in this run
                        outcomes.append(.commit(UnitOfWork(messageId: nil)))
                    case .waiting(let outcome): outcomes.append(outcome)
                    }
                default: outcomes.append(.reject(Rejection(.unknownType, "documents does not handle \(event.type)")))
                }
            } catch let rejection as Rejection {
                outcomes.append(.reject(rejection))
            }
        }
        for (index, outcome) in try await render(work) { outcomes[index] = outcome }
        return outcomes.map { $0 ?? .reject(Rejection(.internalError, "a document was not rendered")) }
    }

    static func key(_ tenant: String, _ id: String) -> String { "\(tenant)/\(id)" }

    /// `tenant.updated`: its invoicing settings under its revision, once.
    func keep(_ event: CloudEvent) async throws -> [DocumentWrite] {
        let revised = try BillingSettingsCoding.Revised(json: event.data)
        let key = Self.key(event.tenantId, String(revised.revision))
        if try await store.document(kind: Self.settingsKind, key: key) != nil { return [] }
        return [
            DocumentWrite(
                kind: Self.settingsKind, key: key, json: BillingSettingsCoding.Revised.kept(event.data),
                expectedVersion: 0)
        ]
    }

    /// An invoice whose documents are to be rendered: its data as the templates read it.
    struct Pending: Sendable {
        let event: CloudEvent
        let invoiceId: String
        let number: String
        let key: String
        let model: JSONValue
    }

    enum Preparation {
        case ready(Pending)
        case rendered
        case waiting(HandlerOutcome)
    }

    /// What `invoice.ready` needs: nothing when its documents are kept; a wait while the
    /// revision of the tenant's settings it names has not arrived; else its documents' data.
    func pending(
        _ event: CloudEvent, rendered: [String: StoredDocument],
        revisions: BatchDocuments<BillingSettingsCoding.Revised>
    ) async throws -> Preparation {
        let tenant = event.tenantId
        let invoice = try Fields(event.data, path: "data")
        let invoiceId = try invoice.string("invoice_id")
        let key = Self.key(tenant, invoiceId)
        if rendered[key] != nil { return .rendered }
        var settings = TenantBillingSettings()
        if let field = event.data["tenant_revision"] {
            guard case .number(let text) = field, let revision = Int64(text) else {
                throw Rejection(.invalidMessage, "data.tenant_revision is not a revision")
            }
            guard let kept = try await revisions.value(Self.key(tenant, String(revision))) else {
                // tenant.updated of that revision is on its way: invoicing had it before this.
                return .waiting(
                    .rejectUnlessItArrives(
                        Rejection(.unknownTenant, "tenant \(tenant): the settings of revision \(revision) never came"),
                        attempts: 24, after: .seconds(5)))
            }
            settings = kept.settings
        }
        let model = try InvoiceDocument.model(invoice: event.data, settings: settings)
        return .ready(
            Pending(event: event, invoiceId: invoiceId, number: try invoice.string("number"), key: key, model: model))
    }

    /// The documents of `work`, typeset at once over the pool: each a commit of both documents
    /// and `invoice.document_ready`, or a rejection of what the typesetter refuses. A typesetter
    /// that is unavailable is a fault: the run is tried again.
    func render(_ work: [(index: Int, document: Pending)]) async throws -> [(Int, HandlerOutcome)] {
        try await withThrowingTaskGroup(of: (Int, HandlerOutcome).self) { group in
            for (index, document) in work {
                group.addTask { (index, try await self.render(document)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    func render(_ document: Pending) async throws -> HandlerOutcome {
        let page = html.render(document.model)
        let pdf: [UInt8]
        do throws(Typesetter.Failure) {
            pdf = try await typesetters.typeset(document.model.serialized())
        } catch .refused(let message) {
            return .reject(Rejection(.invalidMessage, "invoice \(document.invoiceId) cannot be typeset: \(message)"))
        }
        let path = "/v1/invoices/\(document.invoiceId)/document"
        let ready = EventPayloads.documentReady(
            invoiceId: document.invoiceId, number: document.number,
            documents: [
                Self.described(pdf, mediaType: "application/pdf", path: path + ".pdf"),
                Self.described(page, mediaType: "text/html", path: path + ".html"),
            ])
        return .commit(
            UnitOfWork(
                messageId: nil,
                // Fresh documents: a second rendering (another replica) conflicts and finds these.
                documents: [
                    DocumentWrite(kind: Self.pdfKind, key: document.key, body: pdf, expectedVersion: 0),
                    DocumentWrite(kind: Self.htmlKind, key: document.key, body: page, expectedVersion: 0),
                ],
                outbox: [
                    events.event(
                        Self.documentReady, tenantId: document.event.tenantId, causationId: document.event.id,
                        data: ready, time: now(), key: document.invoiceId)
                ]))
    }

    static func described(_ bytes: [UInt8], mediaType: String, path: String) -> EventPayloads.RenderedDocument {
        EventPayloads.RenderedDocument(
            mediaType: mediaType, sha256: SHA256.hash(data: bytes).hexDigits, bytes: bytes.count, path: path)
    }
}
