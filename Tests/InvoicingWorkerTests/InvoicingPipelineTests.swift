import BillingDomain
import CovenantMessages
import Foundation
import InvoicingWorker
import ProvisioningWorker
import Testing
import WorkerRuntime
import WorkerStores

/// Provisioning and invoicing handlers over their own SQLite stores, provisioning's events
/// handed to invoicing as the broker would.
final class Pipeline {
    let provisioningStore: SQLiteWorkerStore
    let invoicingStore: SQLiteWorkerStore
    let provisioning: ProvisioningHandler
    let invoicing: InvoicingHandler
    private var sequence = 0

    init() async throws {
        let directory = NSTemporaryDirectory() + "covenant-pipeline-\(UUID().uuidString)"
        provisioningStore = try SQLiteWorkerStore(directory: directory, role: .provisioning)
        invoicingStore = try SQLiteWorkerStore(directory: directory, role: .invoicing)
        try await provisioningStore.migrate()
        try await invoicingStore.migrate()
        provisioning = ProvisioningHandler(
            store: provisioningStore, events: EventFactory(source: "covenant/provisioning"),
            now: { "2025-01-15T09:30:00Z" })
        invoicing = InvoicingHandler(
            store: invoicingStore, events: EventFactory(source: "covenant/invoicing"), now: { "2025-02-01T00:00:00Z" })
    }

    func event(_ type: String, _ data: String) throws -> CloudEvent {
        sequence += 1
        return CloudEvent(
            id: "m-\(sequence)", source: "tests", type: type, time: "2025-01-15T09:30:00Z", tenantId: "acme",
            data: try #require(JSONValue.parse(Array(data.utf8))))
    }

    /// Runs `event` through `handler`, commits, and returns the events it published.
    @discardableResult
    func run(_ handler: any MessageHandler, _ store: any MessageStore, _ event: CloudEvent) async throws -> [CloudEvent]
    {
        switch try await handler.handle(event) {
        case .reject(let rejection):
            Issue.record("rejected \(event.type): \(rejection)")
            return []
        case .commit(var unit):
            unit.messageId = event.id
            #expect(try await store.commit(unit) == .committed)
            return unit.outbox.map { try! CloudEvent.decode($0.body).get() }
        }
    }

    /// A command to provisioning; its events go on to invoicing where it subscribes.
    @discardableResult
    func provision(_ type: String, _ data: String) async throws -> [CloudEvent] {
        var published: [CloudEvent] = []
        for event in try await run(provisioning, provisioningStore, try event(type, data))
        where InvoicingHandler.subscribedEvents.contains(event.type) {
            published += try await run(invoicing, invoicingStore, event)
        }
        return published
    }

    func invoice(_ type: String, _ data: String) async throws -> [CloudEvent] {
        try await run(invoicing, invoicingStore, try event(type, data))
    }
}

@Suite("Invoicing fed by provisioning's events")
struct InvoicingPipelineTests {
    func setUp() async throws -> Pipeline {
        let pipeline = try await Pipeline()
        try await pipeline.provision(
            "tenant.upsert",
            #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#
        )
        try await pipeline.provision(
            "plan.upsert",
            #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm","usage_prices":[{"metric":"gb","model":"per_unit","unit_price":"0.10"}]}"#
        )
        try await pipeline.provision(
            "plan.upsert",
            #"{"plan_id":"vm-premium","name":"VM Premium","currency":"INR","monthly_fee":"2000.00","service_type":"vm"}"#
        )
        try await pipeline.provision(
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10"}}"#
        )
        try await pipeline.provision(
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
        )
        return pipeline
    }

    @Test("The worked example's first invoice, with PAYG usage, then a repeated run issues nothing")
    func firstInvoice() async throws {
        let pipeline = try await setUp()
        _ = try await pipeline.invoice(
            "usage.rated",
            #"{"records":[{"usage_id":"u-1","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"123.5","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg"},{"usage_id":"u-2","customer_id":"cust-1","service_id":"vm-1","metric":"gb","quantity":"999","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"fixed_term"}]}"#
        )
        let events = try await pipeline.invoice("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(events.map(\.type) == ["invoice.ready", "billing.run.completed"])
        let invoice = events[0].data
        guard case .array(let lines) = invoice["lines"] else {
            Issue.record("no lines")
            return
        }
        // 17/31 of 1000.00 less 10 %; 123.5 GB × 0.10 (the fixed-term service's usage is not charged).
        #expect(lines.map { $0["amount"] } == [.string("493.55"), .string("12.35")])
        #expect(
            lines.first?["gross_amount"] == .string("548.39") && lines.first?["discount_amount"] == .string("54.84"))
        #expect(invoice["total"] == .string("505.90"))
        #expect(events[1].data["invoice_ids"] == .array([.string("INV-cust-1-20250201-INR")]))
        let stored = try #require(
            try await pipeline.invoicingStore.invoice(tenantId: "acme", invoiceId: "INV-cust-1-20250201-INR"))
        #expect(stored.total == Rational(decimal: "505.90"))

        let again = try await pipeline.invoice("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(again.map(\.type) == ["billing.run.completed"])
        #expect(again[0].data["invoice_ids"] == .array([]))
    }

    @Test("A plan change issues its pro-rata invoice at once; the next run bills the new plan")
    func planChange() async throws {
        let pipeline = try await setUp()
        _ = try await pipeline.invoice("billing.run", #"{"as_of":"2025-02-01"}"#)
        let immediate = try await pipeline.provision(
            "service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#)
        #expect(immediate.map(\.type) == ["invoice.ready", "billing.run.completed"])
        #expect(
            immediate[0].data["issue_date"] == .string("2025-02-15") && immediate[0].data["total"] == .string("450.00"))
        let march = try await pipeline.invoice("billing.run", #"{"as_of":"2025-03-01"}"#)
        // 14/28 of 2000.00 less the kept 10 %.
        #expect(march.first?.data["total"] == .string("900.00"))
    }

    @Test("A cancellation's remainder fee lands on the next run with the last prorated month")
    func cancellation() async throws {
        let pipeline = try await setUp()
        _ = try await pipeline.invoice("billing.run", #"{"as_of":"2025-08-01"}"#)
        try await pipeline.provision(
            "service.provision",
            #"{"customer_id":"cust-2","service_id":"vm-2","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"manual","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","early_termination":{"kind":"remainder"}}}"#
        )
        _ = try await pipeline.invoice("billing.run", #"{"as_of":"2025-08-01"}"#)
        try await pipeline.provision("service.cancel", #"{"service_id":"vm-2","effective_date":"2025-08-10"}"#)
        let september = try await pipeline.invoice("billing.run", #"{"as_of":"2025-09-01"}"#)
        let customerTwo = try #require(
            september.first { $0.type == "invoice.ready" && $0.data["customer_id"] == .string("cust-2") })
        // 9/31 of August less 10 % (261.29) and the remainder fee 4645.16 (see the domain tests).
        #expect(customerTwo.data["total"] == .string("4906.45"))
    }

    @Test("Term end: auto_renew continues billing without a gap; expire ends once")
    func renewalAndExpiry() async throws {
        let pipeline = try await setUp()
        try await pipeline.provision(
            "service.provision",
            #"{"customer_id":"cust-3","service_id":"vm-3","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","renewal":{"policy":"auto_renew"}}}"#
        )
        _ = try await pipeline.invoice("billing.run", #"{"as_of":"2026-01-01"}"#)
        // The run of 2026-02-01: provisioning renews vm-3 and lets vm-1 (expire) end.
        let lifecycle = try await pipeline.run(
            pipeline.provisioning, pipeline.provisioningStore,
            try pipeline.event("billing.run", #"{"as_of":"2026-02-01"}"#))
        #expect(
            lifecycle.map(\.type).sorted() == ["billing.lifecycle_processed", "contract.expired", "contract.renewed"])
        for event in lifecycle where InvoicingHandler.subscribedEvents.contains(event.type) {
            _ = try await pipeline.run(pipeline.invoicing, pipeline.invoicingStore, event)
        }
        let february = try await pipeline.invoice("billing.run", #"{"as_of":"2026-02-01"}"#)
        let renewed = try #require(
            february.first { $0.type == "invoice.ready" && $0.data["customer_id"] == .string("cust-3") })
        // 1–14 January on the old contract (406.45) and 15–31 January on the renewed one (493.55).
        #expect(renewed.data["total"] == .string("900.00"))
        // A later run renews nothing again and expires nothing twice.
        let again = try await pipeline.run(
            pipeline.provisioning, pipeline.provisioningStore,
            try pipeline.event("billing.run", #"{"as_of":"2026-03-01"}"#))
        #expect(again.map(\.type) == ["billing.lifecycle_processed"])
    }
}
