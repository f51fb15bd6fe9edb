import BillingDomain
import CovenantMessages
import Foundation
import InvoicingWorker
import Testing
import WorkerRuntime
import WorkerStores

@Suite("Invoices made final: legal numbers, due dates and taxes from the tenant's and customer's profiles")
struct InvoiceTermsTests {
    static let tenant =
        #"{"name":"Acme","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"payment_terms_days":15,"invoice_profile":{"legal_name":"Acme Cloud Pvt Ltd","number_prefix":"AC-"},"taxes":[{"code":"cgst","name":"CGST","rate":"9","default":true},{"code":"sgst","name":"SGST","rate":"9","default":true},{"code":"igst","name":"IGST","rate":"18"}]}"#

    func setUp() async throws -> Pipeline {
        let pipeline = try await Pipeline()
        try await pipeline.send("tenant.upsert", Self.tenant)
        try await pipeline.send(
            "plan.upsert",
            #"{"plan_id":"vm","name":"VM Standard","currency":"INR","monthly_fee":"1000.00","service_type":"vm"}"#)
        for customer in ["cust-1", "cust-2"] {
            try await pipeline.send(
                "service.provision",
                #"{"customer_id":"\#(customer)","service_id":"vm-\#(customer)","plan_id":"vm","start_date":"2025-01-15","billing_model":"fixed_term","payment_mode":"postpaid","contract":{"term_months":12,"monthly_fee":"1000.00","discount_percent":"10"}}"#
            )
        }
        return pipeline
    }

    @Test("GST on the worked example; numbers AC-000001, AC-000002 in issue order; a repeated run takes none")
    func taxedAndNumbered() async throws {
        let pipeline = try await setUp()
        // cust-2 pays IGST instead of the defaults, on 45 days.
        let updated = try await pipeline.send(
            "customer.upsert",
            #"{"customer_id":"cust-2","name":"Globex","tax_codes":["igst"],"payment_terms_days":45,"address":{"line1":"1 MG Road","city":"Bengaluru","country":"IN"}}"#
        )
        #expect(updated.of("customer.updated").count == 1)
        let ready = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("invoice.ready")
        try #require(ready.count == 2)
        let byCustomer = Dictionary(uniqueKeysWithValues: ready.map { ($0.data["customer_id"], $0.data) })
        let first = try #require(byCustomer[.string("cust-1")])
        let second = try #require(byCustomer[.string("cust-2")])
        // 493.55 net: CGST and SGST 9 % each, 44.42 apiece; IGST 18 %, 88.84.
        #expect(first["tax_total"] == .string("88.84") && first["total"] == .string("582.39"))
        #expect(first["amount_due"] == .string("582.39") && first["due_date"] == .string("2025-02-16"))
        #expect(second["tax_total"] == .string("88.84") && second["due_date"] == .string("2025-03-18"))
        guard case .array(let lines) = first["lines"], case .array(let taxes)? = lines.first?["taxes"] else {
            Issue.record("no line taxes")
            return
        }
        #expect(taxes.map { $0["code"] } == [.string("cgst"), .string("sgst")])
        #expect(taxes.map { $0["amount"] } == [.string("44.42"), .string("44.42")])
        let numbers = Set(
            ready.compactMap { event -> String? in
                if case .string(let number)? = event.data["number"] { number } else { nil }
            })
        #expect(numbers == ["AC-000001", "AC-000002"])

        let again = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        #expect(again.of("invoice.ready").isEmpty)
        let next = try await pipeline.send("billing.run", #"{"as_of":"2025-03-01"}"#).of("invoice.ready")
        let later = Set(
            next.compactMap { event -> String? in
                if case .string(let number)? = event.data["number"] { number } else { nil }
            })
        #expect(later == ["AC-000003", "AC-000004"])
    }

    @Test(
        "An invoice names the customer as billed and the tenant's settings revision it became final under; later changes reach later invoices only"
    )
    func billedAsIssued() async throws {
        let pipeline = try await setUp()
        try await pipeline.send(
            "customer.upsert",
            #"{"customer_id":"cust-2","name":"Globex","tax_id":"29AAGCG4321K1Z8","address":{"line1":"1 MG Road","city":"Bengaluru","country":"IN"}}"#
        )
        func invoices(_ asOf: String) async throws -> [JSONValue: JSONValue] {
            let ready = try await pipeline.send("billing.run", #"{"as_of":"\#(asOf)"}"#).of("invoice.ready")
            return Dictionary(uniqueKeysWithValues: ready.map { ($0.data["customer_id"] ?? .null, $0.data) })
        }
        let february = try await invoices("2025-02-01")
        let billed = try #require(february[.string("cust-2")]?["customer"])
        #expect(billed["name"] == .string("Globex") && billed["tax_id"] == .string("29AAGCG4321K1Z8"))
        #expect(billed["address"]?["city"] == .string("Bengaluru") && billed["address"]?["country"] == .string("IN"))
        #expect(february[.string("cust-1")]?["customer"] == nil)  // never upserted: named by its id
        guard case .number(let revision)? = february[.string("cust-2")]?["tenant_revision"], let first = Int(revision)
        else {
            Issue.record("no tenant_revision")
            return
        }
        try await pipeline.send("customer.upsert", #"{"customer_id":"cust-2","name":"Globex Renamed"}"#)
        try await pipeline.send("tenant.upsert", Self.tenant.replacingOccurrences(of: "Acme Cloud", with: "Acme Two"))
        let march = try await invoices("2025-03-01")
        #expect(march[.string("cust-2")]?["customer"]?["name"] == .string("Globex Renamed"))
        #expect(march[.string("cust-2")]?["tenant_revision"] == .number(String(first + 1)))
    }

    @Test("A tenant without taxes sees the amounts it saw before, with a number and a due date")
    func untaxed() async throws {
        let pipeline = try await InvoicingPipelineTests().setUp()
        let invoice = try #require(
            try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("invoice.ready").first?.data)
        #expect(invoice["total"] == .string("493.55") && invoice["tax_total"] == .string("0.00"))
        #expect(invoice["number"] == .string("INV-000001") && invoice["due_date"] == .string("2025-03-03"))
    }

    @Test("A customer grouping per service gets an invoice per service, each with its own number")
    func perService() async throws {
        let pipeline = try await InvoicingPipelineTests().setUp()
        try await pipeline.send(
            "customer.upsert", #"{"customer_id":"cust-1","name":"Initech","invoice_grouping":"per_service"}"#)
        try await pipeline.send(
            "usage.rated",
            #"{"records":[{"usage_id":"u-1","customer_id":"cust-1","service_id":"sim-1","metric":"gb","quantity":"123.5","month":"2025-01","date":"2025-01-20","late":false,"billing_model":"payg"}]}"#
        )
        let events = try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#)
        let ready = events.of("invoice.ready").map(\.data)
        #expect(
            ready.map { $0["invoice_id"] } == [
                .string("INV-cust-1-20250201-INR-vm-1"), .string("INV-cust-1-20250201-INR-sim-1"),
            ])
        #expect(ready.map { $0["total"] } == [.string("493.55"), .string("12.35")])
        #expect(ready.map { $0["number"] } == [.string("INV-000001"), .string("INV-000002")])
        #expect(
            events.of("billing.run.completed").map { $0.data["invoice_ids"] } == [
                .array([.string("INV-cust-1-20250201-INR-vm-1"), .string("INV-cust-1-20250201-INR-sim-1")])
            ])
    }

    @Test("A customer naming a tax code its tenant does not list is unknown_tax_code, and nothing is kept")
    func unknownTaxCode() async throws {
        let pipeline = try await setUp()
        let upsert = try pipeline.event(
            "customer.upsert", #"{"customer_id":"cust-1","name":"Initech","tax_codes":["vat"]}"#)
        guard case .reject(let rejection) = try await pipeline.invoicing.handle(upsert) else {
            Issue.record("accepted a customer with an unknown tax code")
            return
        }
        #expect(rejection.code == .unknownTaxCode)
        #expect(try await pipeline.invoicingStore.document(kind: "customer", key: "acme/cust-1") == nil)
    }

    @Test("Bad tenant settings are invalid_message: a country, a logo, a colour, a rate, equal prefixes")
    func badSettings() async throws {
        let pipeline = try await setUp()
        let bad = [
            #""invoice_profile":{"address":{"line1":"x","city":"y","country":"XX"}}"#,
            #""invoice_profile":{"logo":"data:image/gif;base64,R0lGOD"}"#,
            #""invoice_profile":{"logo":"data:image/png;base64,\#(String(repeating: "A", count: 262_200))"}"#,
            #""invoice_profile":{"accent_color":"red"}"#,
            #""taxes":[{"code":"vat","name":"VAT","rate":"100.5"}]"#,
            #""taxes":[{"code":"vat","name":"VAT","rate":"-1"}]"#,
            #""invoice_profile":{"number_prefix":"X-","credit_note_prefix":"X-"}"#,
            #""payment_terms_days":-3"#,
        ]
        for settings in bad {
            let command = try pipeline.event("tenant.configure", "{\(settings)}")
            guard case .reject(let rejection) = try await pipeline.provisioning.handle(command) else {
                Issue.record("accepted \(settings.prefix(80))")
                continue
            }
            #expect(rejection.code == .invalidMessage, "\(settings.prefix(80))")
        }
    }

    @Test("tenant.configure changes the settings it sends and keeps the others; null returns one to its default")
    func configureMerges() async throws {
        let pipeline = try await setUp()
        let changed = try await pipeline.send("tenant.configure", #"{"payment_terms_days":null}"#)
        let settings = try #require(changed.of("tenant.updated").first?.data)
        #expect(settings["payment_terms_days"] == nil)
        guard case .array(let taxes)? = settings["taxes"] else {
            Issue.record("the taxes were dropped")
            return
        }
        #expect(taxes.count == 3)
        let invoice = try #require(
            try await pipeline.send("billing.run", #"{"as_of":"2025-02-01"}"#).of("invoice.ready").first?.data)
        // The tenant's terms are the default 30 days again; its prefix and taxes were kept.
        #expect(invoice["due_date"] == .string("2025-03-03") && invoice["tax_total"] == .string("88.84"))
    }
}
