import AMQPClient
import BillingDomain
import CovenantMessages
import DocumentsWorker
import Foundation
import InvoiceDocuments
import WorkerRuntime

/// The documents figures' tools: the input of the whole documents worker, and the typesetter
/// alone on the same documents.
///
///     pipeline-benchmark invoices URL COUNT      the example tenant's settings (revision 1,
///                                                config/examples/tenant.json: logo, address,
///                                                CGST and SGST) and COUNT invoice.ready of
///                                                eight lines each, into the documents queue
///     pipeline-benchmark typeset COUNT PROCESSES the same documents through PROCESSES warm
///                                                typesetters, all at once; prints documents/s
enum Documents {
    static let tenant = PipelineBenchmark.tenant

    /// The example tenant's `tenant.upsert` data, as `tenant.updated` carries it at revision 1.
    static func tenantSettings() throws -> JSONValue {
        let examples = try Data(contentsOf: URL(fileURLWithPath: "config/examples/tenant.json"))
        guard case .array(let commands)? = JSONValue.parse(Array(examples)), let data = commands.first?["data"] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return BillingSettingsCoding.Revised.kept(data.adding(["revision": .number("1")]))
    }

    /// Invoice `n`: eight recurring lines of March 2025, amounts varying with `n`, made final
    /// under `settings` (its taxes) and billed to a customer with an address and a tax id.
    static func invoice(_ n: Int, settings: TenantBillingSettings) throws -> JSONValue {
        let inr = Currency(code: "INR")!
        let march = BillingPeriod(
            start: CalendarDate(year: 2025, month: 3, day: 1)!, end: CalendarDate(year: 2025, month: 4, day: 1)!)
        let products = [
            "Compute, vCPU hours", "Block storage, SSD GB-month", "Object storage, standard tier",
            "Managed PostgreSQL, db.m2", "Load balancer, hours", "Egress bandwidth, GB", "Support plan, Business",
            "Backup snapshots, GB-month",
        ]
        let lines = products.enumerated().map { index, product in
            let gross = Int128(10_000 + (n * 7919 + index * 104_729) % 9_000_000)
            return InvoiceLine(
                kind: .recurring, serviceId: "svc-\(index)", contractId: "svc-\(index)-1", period: march,
                description: "\(product), Mar 2025", grossAmount: Money(minorUnits: gross, currency: inr),
                discountAmount: Money(minorUnits: gross / 10, currency: inr))
        }
        let issued = try Invoice(
            id: "INV-c\(n)-20250401-INR", customerId: "c\(n)", currency: inr,
            issueDate: CalendarDate(year: 2025, month: 4, day: 1)!, lines: lines)
        let customer = CustomerProfile(
            name: "Customer \(n) Pvt Ltd",
            address: PostalAddress(
                line1: "\(n) Residency Road", city: "Bengaluru", postalCode: "560025", region: "Karnataka",
                country: "IN"), taxId: "29AAGCC\(1000 + n % 9000)K1Z8")
        let (taxes, due) = customer.terms(under: settings, issuedOn: issued.issueDate)
        let final = try issued.finalised(
            number: InvoiceNumbering.number(prefix: "ACS-", sequence: n), dueDate: due, taxes: taxes
        ).billed(to: customer, settingsRevision: 1)
        return EventPayloads.invoiceReady(final)
    }

    static func publish(_ amqp: AMQPConfiguration, count: Int) async throws {
        try Topology.workerQueue(
            "covenant.documents", commands: DocumentsHandler.commands, events: DocumentsHandler.subscribedEvents
        ).declare(using: amqp)
        let kept = try tenantSettings()
        let settings = try BillingSettingsCoding.settings(stored: kept).get()
        let tenantRoute = Topology.route(event: "tenant.updated", tenantId: tenant)
        let invoiceRoute = Topology.route(event: "invoice.ready", tenantId: tenant)
        var messages = [
            OutgoingMessage(
                PipelineBenchmark.envelope("documents-tenant", "tenant.updated", kept), exchange: tenantRoute.exchange,
                routingKey: tenantRoute.routingKey)
        ]
        for n in 1...count {
            messages.append(
                OutgoingMessage(
                    PipelineBenchmark.envelope("invoice-\(n)", "invoice.ready", try invoice(n, settings: settings)),
                    exchange: invoiceRoute.exchange, routingKey: invoiceRoute.routingKey))
        }
        try await PipelineBenchmark.publishAll(amqp, messages)
    }

    /// The data of `count` documents, as the worker hands it to the typesetter.
    static func documents(count: Int) throws -> [[UInt8]] {
        let settings = try BillingSettingsCoding.settings(stored: try tenantSettings()).get()
        return try (1...count).map { n in
            try InvoiceDocument.model(invoice: try invoice(n, settings: settings), settings: settings).serialized()
        }
    }

    /// The documents' data through `processes` warm typesetters at once, as the worker feeds
    /// them, after one document each to warm them; documents per second. Not optimised:
    /// swift-frontend 6.3.1 crashes (signal 11, splitting this coroutine) compiling it with -O;
    /// its work is in the typesetters, which are.
    @_optimize(none)
    static func typeset(count: Int, processes: Int) async throws -> Double {
        let documents = try documents(count: count)
        let venv = ProcessInfo.processInfo.environment["COVENANT_TYPESETTER_VENV"] ?? "/opt/covenant/typesetter"
        let pool = TypesetterPool(
            count: processes,
            configuration: Typesetter.Configuration(
                python: "\(venv)/bin/python",
                script: "scripts/typesetter", template: "templates/invoice.typ",
                cacheDirectory: NSTemporaryDirectory() + "covenant-typeset-bench-\(UUID().uuidString)"))
        do {
            try await typesetAll(Array(repeating: documents[0], count: processes), pool)  // warm
            let started = ContinuousClock.now
            try await typesetAll(documents, pool)
            let rate = Double(count) / PipelineBenchmark.seconds(.now - started)
            pool.stop()
            return rate
        } catch {
            pool.stop()
            throw error
        }
    }

    /// Every document through the pool, all at once.
    static func typesetAll(_ documents: [[UInt8]], _ pool: TypesetterPool) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for document in documents {
                group.addTask {
                    switch await pool.typesetResult(document) {
                    case .success: break
                    case .failure(let failure): throw failure
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
