import BillingDomain
import CommitmentsWorker
import CovenantMessages
import Foundation
import InvoicingWorker
import ProvisioningWorker
import Testing
import WorkerRuntime
import WorkerStores

@Suite("Invoicing fed by provisioning's events")
struct InvoicingPipelineTests {
    func setUp() async throws -> Pipeline {
        let pipeline = try await Pipeline()
        try await pipeline.send(
            "tenant.upsert",
            #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#
        )
        try await pipeline.send(
            "plan.upsert",
            #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm","usage_prices":[{"metric":"gb","model":"per_unit","unit_price":"0.10"}]}"#
        )
        try await pipeline.send(
            "plan.upsert",
            #"{"plan_id":"vm-premium","name":"VM Premium","currency":"INR","monthly_fee":"2000.00","service_type":"vm"}"#
        )
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10"}}"#
        )
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"sim-1","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
        )
        return pipeline
    }

    @Test("The worked example's first invoice, with PAYG usage, then a repeated run issues nothing")
    func firstInvoice() async throws {
        let pipeline = try await setUp()
        try await pipeline.send(
            "usage.rated",
            #"{"records":[{"usage_id":"u-1","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"123.5","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg"},{"usage_id":"u-2","customer_id":"cust-1","service_id":"vm-1","metric":"gb","quantity":"999","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"fixed_term"}]}"#
        )
        let events = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        let ready = events.of("invoice.ready")
        try #require(ready.count == 1)
        let invoice = ready[0].data
        guard case .array(let lines) = invoice["lines"] else {
            Issue.record("no lines")
            return
        }
        // 17/31 of 1000.00 less 10 %; 123.5 GB × 0.10 (the fixed-term service's usage is not charged).
        #expect(lines.map { $0["amount"] } == [.string("493.55"), .string("12.35")])
        #expect(
            lines.first?["gross_amount"] == .string("548.39") && lines.first?["discount_amount"] == .string("54.84"))
        #expect(invoice["total"] == .string("505.90"))
        #expect(
            events.of("billing.run.completed").map { $0.data["invoice_ids"] } == [
                .array([.string("INV-cust-1-20250201-INR")])
            ])
        let stored = try #require(
            try await pipeline.invoicingStore.invoice(tenantId: "acme", invoiceId: "INV-cust-1-20250201-INR"))
        #expect(stored.total == Rational(decimal: "505.90"))

        let again = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(again.of("invoice.ready").isEmpty)
        #expect(again.of("billing.run.completed").map { $0.data["invoice_ids"] } == [.array([])])
    }

    @Test(
        "Usage rating took before it learned of a cancellation dated earlier is charged on its plan, whichever arrives first",
        arguments: ["2025-01-25", "2025-01-01"])
    func usageAfterServiceEnd(cancelledOn: String) async throws {
        let cancel = #"{"service_id":"sim-1","effective_date":"\#(cancelledOn)"}"#
        // u-2 (and with a cancellation on the start date, u-1 too) is dated on or after the
        // cancellation's day: rating took it before it learned of it, on plan vm.
        let usage =
            #"{"records":[{"usage_id":"u-1","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"10","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg","plan_id":"vm"},{"usage_id":"u-2","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"50","month":"2025-01","date":"2025-01-25","late":false,"billing_model":"payg","plan_id":"vm"}]}"#
        var invoices: [[JSONValue?]] = []
        for usageFirst in [false, true] {
            let pipeline = try await setUp()
            if usageFirst { try await pipeline.send("usage.rated", usage) }
            try await pipeline.send("service.cancel", cancel)
            if !usageFirst { try await pipeline.send("usage.rated", usage) }
            #expect(pipeline.retries == 0)
            let ready = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("invoice.ready")
            try #require(ready.count == 1)
            guard case .array(let lines) = ready[0].data["lines"] else {
                Issue.record("no lines")
                return
            }
            invoices.append(lines.map { $0["amount"] } + lines.map { $0["quantity"] })
        }
        // The contract's 17 days, and both records: 60 GB × 0.10.
        #expect(invoices[0] == [.string("493.55"), .string("6.00"), nil, .string("60")])
        #expect(invoices[1] == invoices[0])
    }

    /// Two pipelines with the same history and a second customer with a PAYG service: one to
    /// take messages in batches, one to take them one by one.
    func twoPipelines() async throws -> (Pipeline, Pipeline) {
        let pipelines = (try await setUp(), try await setUp())
        for pipeline in [pipelines.0, pipelines.1] {
            try await pipeline.send(
                "service.provision",
                #"{"customer_id":"cust-2","service_id":"sim-2","plan_id":"vm","start_date":"2025-01-01","billing_model":"payg","payment_mode":"postpaid"}"#
            )
        }
        return pipelines
    }

    @Test(
        "A batch of rated usage lands as the same messages one by one do, each over what the one before it wrote; a message rejected halfway changes nothing"
    )
    func usageBatch() async throws {
        let (batched, single) = try await twoPipelines()
        func rated(_ records: [(customer: String, service: String, quantity: String, model: String)]) -> String {
            let items = records.map {
                #"{"usage_id":"u","customer_id":"\#($0.customer)","service_id":"\#($0.service)","metric":"gb","quantity":"\#($0.quantity)","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"\#($0.model)"}"#
            }
            return #"{"records":["# + items.joined(separator: ",") + "]}"
        }
        let events = try [
            rated([("cust-1", "sim-1", "1.5", "payg")]),
            rated([("cust-2", "sim-2", "2", "payg"), ("cust-1", "sim-1", "4", "payg")]),
            // The first record alone would be accepted: the second rejects the whole message.
            rated([("cust-2", "sim-2", "7", "payg"), ("cust-1", "sim-1", "-3", "payg")]),
            rated([("cust-1", "sim-1", "0.5", "payg"), ("cust-1", "vm-1", "5", "fixed_term")]),
        ].map { try batched.event("usage.rated", $0) }

        for (handler, store, kind): (any MessageHandler, SQLiteWorkerStore, String) in [
            (batched.invoicing, batched.invoicingStore, "account"),
            (batched.commitments, batched.commitmentsStore, "ledger"),
        ] {
            #expect(handler.batchableTypes.contains("usage.rated"))
            var units: [UnitOfWork] = []
            for (index, (event, outcome)) in zip(events, try await handler.handle(batch: events)).enumerated() {
                switch outcome {
                case .commit(var unit):
                    unit.messageId = event.id
                    units.append(unit)
                case .reject:
                    #expect(index == 2)
                    units.append(UnitOfWork(messageId: event.id))
                case .retryLater(let reason, _, _):
                    Issue.record("\(kind): \(reason)")
                case .rejectUnlessItArrives(let rejection, _, _):
                    Issue.record("\(kind): \(rejection)")
                }
            }
            // cust-1's document is written three times in the batch, each over the last.
            #expect(units.flatMap(\.documents).filter { $0.key == "acme/cust-1" }.count == 3)
            #expect(try await store.commit(together: units) == .committed)
        }
        for event in events {
            for (handler, store): (any MessageHandler, SQLiteWorkerStore) in [
                (single.invoicing, single.invoicingStore), (single.commitments, single.commitmentsStore),
            ] {
                guard case .commit(var unit) = try await handler.handle(event) else { continue }
                unit.messageId = event.id
                #expect(try await store.commit(unit) == .committed)
            }
        }
        for customer in ["acme/cust-1", "acme/cust-2"] {
            let account = try await batched.invoicingStore.document(kind: "account", key: customer)
            let accountOneByOne = try await single.invoicingStore.document(kind: "account", key: customer)
            #expect(account != nil && account == accountOneByOne)
            let ledger = try await batched.commitmentsStore.document(kind: "ledger", key: customer)
            let ledgerOneByOne = try await single.commitmentsStore.document(kind: "ledger", key: customer)
            #expect(ledger != nil && ledger == ledgerOneByOne)
        }
        // 1.5 + 4 + 0.5 GB and 2 GB at 0.10: the rejected message's 7 GB and -3 GB are not there.
        let ready = try await batched.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("invoice.ready")
        let usage = Dictionary(
            uniqueKeysWithValues: ready.map { invoice -> (JSONValue?, [JSONValue?]) in
                guard case .array(let lines)? = invoice.data["lines"] else { return (invoice.data["customer_id"], []) }
                return (
                    invoice.data["customer_id"], lines.filter { $0["type"] == .string("usage") }.map { $0["amount"] }
                )
            })
        #expect(usage[.string("cust-1")] == [.string("0.60")] && usage[.string("cust-2")] == [.string("0.20")])
    }

    @Test(
        "A run's closed periods taken as one batch: the run is counted customer by customer within it and completes once, with the invoices one by one gives"
    )
    func billingRunBatch() async throws {
        let (batched, single) = try await twoPipelines()
        for pipeline in [batched, single] {
            try await pipeline.send(
                "service.provision",
                #"{"customer_id":"cust-3","service_id":"vm-3","plan_id":"vm","start_date":"2025-01-10","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":6,"monthly_fee":"900.00"}}"#
            )
            try await pipeline.send(
                "usage.rated",
                #"{"records":[{"usage_id":"u-1","customer_id":"cust-2","service_id":"sim-2","metric":"gb","quantity":"30","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg"}]}"#
            )
        }
        let oneByOne = try await single.send("billing.run", #"{"as_of":"2025-02-01"}"#)

        // The run starts one part for its three customers, which closes their periods.
        guard
            case .commit(let started) = try await batched.provisioning.handle(
                batched.event("billing.run", #"{"as_of":"2025-02-01"}"#))
        else {
            Issue.record("the run was not started")
            return
        }
        let parts = try started.outbox.map { try CloudEvent.decode($0.body).get() }
        #expect(parts.map(\.type) == [BillingRunPart.type])
        #expect(started.outbox.allSatisfy { $0.exchange == Topology.internalExchange })
        #expect(started.outbox.map(\.routingKey) == ["acme.\(BillingRunPart.type)"])
        let closing = try await commitBatch(parts, batched.provisioning, batched.provisioningStore)
        let periods = closing.of("billing.period_closed")
        try #require(periods.count == 3)
        #expect(Set(periods.map { $0.data["customers"] }) == [.number("3")])
        let units = try await commitBatchUnits(periods, batched.invoicing, batched.invoicingStore)
        let published = try units.flatMap(\.outbox).map { try CloudEvent.decode($0.body).get() }
        // The last customer of the batch completes the run: its invoice ids come from the
        // customers decided before it in the same batch, not yet stored when it was decided.
        #expect(units.map { $0.outbox.contains { $0.type == "billing.run.completed" } } == [false, false, true])
        let expected = oneByOne.of("billing.run.completed").map { $0.data["invoice_ids"] }
        #expect(expected.count == 1 && published.of("billing.run.completed").map { $0.data["invoice_ids"] } == expected)
        #expect(published.of("invoice.ready").map(\.data) == oneByOne.of("invoice.ready").map(\.data))
        #expect(published.of("invoice.ready").count == 3)
        // Delivered again, one by one: nothing more is invoiced and the run is not completed twice.
        let again = try await batched.deliver(periods)
        #expect(again.isEmpty)
    }

    /// Hands `events` to `handler` as one batch and commits the units together; returns them.
    func commitBatchUnits(
        _ events: [CloudEvent], _ handler: some MessageHandler, _ store: SQLiteWorkerStore
    ) async throws -> [UnitOfWork] {
        var units: [UnitOfWork] = []
        for (event, outcome) in zip(events, try await handler.handle(batch: events)) {
            guard case .commit(var unit) = outcome else {
                Issue.record("\(event.type) of \(event.data["customer_id"] ?? .null) not taken: \(outcome)")
                continue
            }
            unit.messageId = event.id
            units.append(unit)
        }
        #expect(try await store.commit(together: units) == .committed)
        return units
    }

    /// The events of a batch committed with ``commitBatchUnits(_:_:_:)``.
    func commitBatch(
        _ events: [CloudEvent], _ handler: some MessageHandler, _ store: SQLiteWorkerStore
    ) async throws -> [CloudEvent] {
        try await commitBatchUnits(events, handler, store).flatMap(\.outbox).map {
            try CloudEvent.decode($0.body).get()
        }
    }
}
