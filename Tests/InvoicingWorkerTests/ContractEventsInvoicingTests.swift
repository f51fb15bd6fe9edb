import BillingDomain
import CommitmentsWorker
import CovenantMessages
import Foundation
import InvoicingWorker
import ProvisioningWorker
import Testing
import WorkerRuntime
import WorkerStores

/// Plan changes, cancellations, renewals, commitments and reordered deliveries, through the pipeline.
extension InvoicingPipelineTests {
    @Test("A plan change issues its pro-rata invoice at once; the next run bills the new plan")
    func planChange() async throws {
        let pipeline = try await setUp()
        try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        let immediate = try await pipeline.send(
            "service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#)
        let ready = immediate.of("invoice.ready")
        #expect(ready.count == 1 && immediate.of("billing.run.completed").count == 1)
        #expect(
            ready.first?.data["issue_date"] == .string("2025-02-15") && ready.first?.data["total"] == .string("450.00"))
        let march = try await pipeline.send("billing.run", #"{"as_of":"2025-03-01"}"#)
        // 14/28 of 2000.00 less the kept 10 %.
        #expect(march.of("invoice.ready").first?.data["total"] == .string("900.00"))
    }

    @Test("A plan change or cancellation dated inside days a run closed is period_already_invoiced")
    func closedPeriod() async throws {
        let pipeline = try await setUp()
        try await pipeline.send("billing.run", #"{"as_of":"2025-03-01"}"#)
        for (type, data) in [
            ("service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#),
            ("service.cancel", #"{"service_id":"vm-1","effective_date":"2025-02-28"}"#),
            ("service.cancel", #"{"service_id":"sim-1","effective_date":"2025-01-31"}"#),
        ] {
            guard case .reject(let rejection) = try await pipeline.provisioning.handle(try pipeline.event(type, data))
            else {
                Issue.record("\(type) \(data) was accepted")
                continue
            }
            #expect(rejection.code == .periodAlreadyInvoiced)
        }
        // On the first day the run did not cover, the change is accepted.
        let accepted = try await pipeline.send(
            "service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-03-01"}"#)
        #expect(accepted.of("contract.plan_changed").count == 1)
    }

    @Test("A cancellation's remainder fee lands on the next run with the last prorated month")
    func cancellation() async throws {
        let pipeline = try await setUp()
        try await pipeline.send("billing.run", #"{"as_of":"2025-08-01"}"#)
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-2","service_id":"vm-2","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"manual","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","early_termination":{"kind":"remainder"}}}"#
        )
        try await pipeline.send("billing.run", #"{"as_of":"2025-08-01"}"#)
        try await pipeline.send("service.cancel", #"{"service_id":"vm-2","effective_date":"2025-08-10"}"#)
        let september = try await pipeline.send("billing.run", #"{"as_of":"2025-09-01"}"#)
        let customerTwo = try #require(
            september.of("invoice.ready").first { $0.data["customer_id"] == .string("cust-2") })
        // 9/31 of August less 10 % (261.29) and the remainder fee 4645.16 (see the domain tests).
        #expect(customerTwo.data["total"] == .string("4906.45"))
        #expect(
            september.of("billing.run.completed").first?.data["invoice_ids"].map { value in
                if case .array(let ids) = value { ids.count } else { 0 }
            } == 2)
    }

    @Test("Term end: the run that renews a contract bills the renewed days; expire ends once")
    func renewalAndExpiry() async throws {
        let pipeline = try await setUp()
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-3","service_id":"vm-3","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","renewal":{"policy":"auto_renew"}}}"#
        )
        try await pipeline.send("billing.run", #"{"as_of":"2026-01-01"}"#)
        // The run of 2026-02-01 renews vm-3 and lets vm-1 (expire) end, and bills both at once.
        let february = try await pipeline.send("billing.run", #"{"as_of":"2026-02-01"}"#)
        #expect(february.of("contract.renewed").count == 1 && february.of("contract.expired").count == 1)
        let renewed = try #require(february.of("invoice.ready").first { $0.data["customer_id"] == .string("cust-3") })
        // 1–14 January on the old contract (406.45) and 15–31 January on the renewed one (493.55).
        #expect(renewed.data["total"] == .string("900.00"))
        // A later run renews nothing again and expires nothing twice.
        let again = try await pipeline.send("billing.run", #"{"as_of":"2026-03-01"}"#)
        #expect(again.of("contract.renewed").isEmpty && again.of("contract.expired").isEmpty)
    }

    @Test(
        "Drafts taken by commitments as one batch evaluate as they do one by one, and delivered again evaluate no window twice"
    )
    func draftBatch() async throws {
        let (batched, single) = (try await setUp(), try await setUp())
        for pipeline in [batched, single] {
            for (customer, quantity) in [("cust-4", "40"), ("cust-5", "140")] {
                try await pipeline.send(
                    "service.provision",
                    #"{"customer_id":"\#(customer)","service_id":"sim-\#(customer)","plan_id":"vm","start_date":"2025-01-01","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"100.00","commitments":[{"id":"sms","type":"usage","metric":"sms_mo_mb","frequency_months":1,"ramp":[{"from_window":1,"amount":"100"}],"penalty":{"kind":"count","unit_price":"0.10"}}]}}"#
                )
                try await pipeline.send(
                    "usage.rated",
                    #"{"records":[{"usage_id":"u-\#(customer)","customer_id":"\#(customer)","service_id":"sim-\#(customer)","metric":"sms_mo_mb","quantity":"\#(quantity)","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"fixed_term"}]}"#
                )
            }
        }
        let oneByOne = try await single.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("commitments.evaluated")

        #expect(batched.commitments.batchableTypes.contains("invoice.drafted"))
        let periods = try await batched.provisioningOnly("billing.run", #"{"as_of":"2025-02-01"}"#)
            .of("billing.period_closed")
        let drafts = try await commitBatch(periods, batched.invoicing, batched.invoicingStore).of("invoice.drafted")
        try #require(drafts.count == 2)
        let evaluated = try await commitBatch(drafts, batched.commitments, batched.commitmentsStore)
        func windows(_ events: [CloudEvent]) -> [JSONValue?: JSONValue?] {
            Dictionary(uniqueKeysWithValues: events.map { ($0.data["customer_id"], $0.data["windows"]) })
        }
        // cust-4 missed its 100 by 60, cust-5 met it; the same as one by one.
        #expect(windows(evaluated).count == 2 && windows(evaluated) == windows(oneByOne))
        for customer in ["acme/cust-4", "acme/cust-5"] {
            let ledger = try await batched.commitmentsStore.document(kind: "ledger", key: customer)
            let ledgerOneByOne = try await single.commitmentsStore.document(kind: "ledger", key: customer)
            #expect(ledger != nil && ledger == ledgerOneByOne)
        }
        // The drafts again, as one batch: every window is evaluated already.
        let again = try await commitBatch(
            drafts.map { draft in
                var copy = draft
                copy.id += "-again"
                return copy
            }, batched.commitments, batched.commitmentsStore)
        #expect(again.count == 2 && again.allSatisfy { $0.data["windows"] == .array([]) })
    }

    @Test("A usage commitment missed: commitments evaluates the draft and the shortfall line joins the invoice")
    func commitmentShortfall() async throws {
        let pipeline = try await setUp()
        try await pipeline.send(
            "service.provision",
            #"{"customer_id":"cust-4","service_id":"sim-9","plan_id":"vm","start_date":"2025-01-01","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"100.00","commitments":[{"id":"sms","type":"usage","metric":"sms_mo_mb","frequency_months":1,"ramp":[{"from_window":1,"amount":"100"}],"penalty":{"kind":"tiered","tiers":[{"up_to":"50","unit_price":"0.10"},{"up_to":null,"unit_price":"0.20"}]}}]}}"#
        )
        try await pipeline.send(
            "usage.rated",
            #"{"records":[{"usage_id":"u-9","customer_id":"cust-4","service_id":"sim-9","metric":"sms_mo_mb","quantity":"40","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"fixed_term"}]}"#
        )
        let events = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(events.of("invoice.drafted").count == 1 && events.of("commitments.evaluated").count == 1)
        let invoice = try #require(events.of("invoice.ready").first { $0.data["customer_id"] == .string("cust-4") })
        guard case .array(let lines) = invoice.data["lines"] else {
            Issue.record("no lines")
            return
        }
        let shortfall = try #require(lines.first { $0["type"] == .string("commitment_shortfall") })
        // Shortfall 60: 50 × 0.10 + 10 × 0.20.
        #expect(shortfall["amount"] == .string("7.00"))
        #expect(shortfall["committed"] == .string("100") && shortfall["actual"] == .string("40"))
        #expect(invoice.data["total"] == .string("107.00"))
        // Both customers' invoices complete the run.
        #expect(events.of("billing.run.completed").count == 1)
        // A repeated run evaluates no window twice.
        let again = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(again.of("invoice.ready").isEmpty)
    }

    @Test(
        "Provisioning's events delivered in any order give the same invoices", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func reordered(seed: UInt64) async throws {
        func history(_ pipeline: Pipeline) async throws -> [CloudEvent] {
            var events: [CloudEvent] = []
            for (type, data) in Self.history {
                events += try await pipeline.provisioningOnly(type, data)
            }
            return events
        }
        let inOrder = try await Pipeline()
        let expected = try await inOrder.deliver(try await history(inOrder)).of("invoice.ready")
        let shuffled = try await Pipeline(shuffleSeed: seed)
        let actual = try await shuffled.deliver(try await history(shuffled)).of("invoice.ready")
        #expect(expected.count == 7)
        // The legal numbers follow the order invoices became final: the invoices are the same
        // without them, and in either order the numbers are INV-000001 … INV-000007. So does
        // `tenant_revision`: an invoice made final before invoicing saw `tenant.updated` names none.
        func unnumbered(_ events: [CloudEvent]) -> [String: JSONValue] {
            Dictionary(
                uniqueKeysWithValues: events.map { ($0.id, $0.data.removing("number").removing("tenant_revision")) })
        }
        #expect(unnumbered(actual) == unnumbered(expected))
        for events in [expected, actual] {
            #expect(Set(events.map { $0.data["number"] }) == Set((1...7).map { .string("INV-00000\($0)") }))
        }
        #expect(shuffled.retries > 0, "the shuffle made some event wait for its predecessor")
    }

    /// Commands for provisioning: tenant, plans, a contract with an invoice-amount commitment
    /// that a plan change carries, a PAYG service, runs, and a cancellation.
    static let history: [(String, String)] = [
        (
            "tenant.upsert",
            #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#
        ),
        (
            "plan.upsert",
            #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm"}"#
        ),
        (
            "plan.upsert",
            #"{"plan_id":"vm-premium","name":"VM Premium","currency":"INR","monthly_fee":"2000.00","service_type":"vm"}"#
        ),
        (
            "service.provision",
            #"{"customer_id":"cust-1","service_id":"vm-1","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10","commitments":[{"id":"spend","type":"invoice_amount","frequency_months":1,"ramp":[{"from_window":1,"amount":"1200"}],"penalty":{"kind":"charge"}}]}}"#
        ),
        (
            "service.provision",
            #"{"customer_id":"cust-2","service_id":"vm-2","plan_id":"vm","start_date":"2025-01-01","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","early_termination":{"kind":"remainder"}}}"#
        ),
        ("billing.run", #"{"as_of":"2025-02-01"}"#),
        ("service.change_plan", #"{"service_id":"vm-1","plan_id":"vm-premium","effective_date":"2025-02-15"}"#),
        ("billing.run", #"{"as_of":"2025-03-01"}"#),
        ("service.cancel", #"{"service_id":"vm-2","effective_date":"2025-03-10"}"#),
        ("billing.run", #"{"as_of":"2025-04-01"}"#),
    ]
}
