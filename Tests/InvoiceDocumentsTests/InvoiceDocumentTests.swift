import BillingDomain
import CovenantMessages
import InvoiceDocuments
import Testing

@Suite("What an invoice's document shows")
struct InvoiceDocumentTests {
    static let invoice = """
        {"invoice_id":"INV-cust-1-20250201-INR","customer_id":"cust-1","currency":"INR","issue_date":"2025-02-01",
         "lines":[{"type":"recurring","service_id":"vm-1","contract_id":"vm-1-1",
           "period":{"start":"2025-01-15","end":"2025-02-01"},"description":"VM Standard, 15–31 Jan 2025",
           "gross_amount":"548.39","discount_amount":"54.84","amount":"493.55",
           "taxes":[{"code":"cgst","rate":"9","amount":"44.42"},{"code":"sgst","rate":"9","amount":"44.42"}]},
          {"type":"usage","service_id":"sim-1","period":{"start":"2025-01-01","end":"2025-02-01"},
           "description":"gb usage, Jan 2025","metric":"gb","quantity":"1234567.5","gross_amount":"123456.75",
           "discount_amount":"0.00","amount":"123456.75",
           "taxes":[{"code":"cgst","rate":"9","amount":"11111.11"},{"code":"sgst","rate":"9","amount":"11111.11"}]}],
         "subtotal":"124005.14","discount_total":"54.84","tax_total":"22311.06","total":"146261.36",
         "amount_due":"146261.36","number":"AC-000042","due_date":"2025-03-03"}
        """

    static func settings() -> TenantBillingSettings {
        TenantBillingSettings(
            profile: InvoiceProfile(
                legalName: "Acme Cloud Pvt Ltd",
                address: PostalAddress(
                    line1: "4th Floor, Prestige Tech Park", city: "Bengaluru", postalCode: "560103",
                    region: "Karnataka", country: "IN"),
                taxId: "29AABCA1234F1Z5", accentColor: "#0B6E4F", footer: "Thank you for your business."),
            taxes: [
                TaxRate(code: "cgst", name: "CGST", rate: Rational(9), isDefault: true)!,
                TaxRate(code: "sgst", name: "SGST", rate: Rational(9), isDefault: true)!,
            ])
    }

    @Test("Every figure written out: tax columns by name and rate, totals, dates, the terms; the tenant's brand")
    func taxedInvoice() throws {
        let data = try #require(JSONValue.parse(Array(Self.invoice.utf8))).adding([
            "customer": .object(["name": .string("Globex Société"), "tax_id": .string("29AAFFS9876K1Z2")])
        ])
        let model = try InvoiceDocument.model(invoice: data, settings: Self.settings())
        #expect(model["title"] == .string("Tax invoice") && model["number"] == .string("AC-000042"))
        #expect(model["issue_date"] == .string("1 Feb 2025") && model["due_date"] == .string("3 Mar 2025"))
        #expect(model["tax_names"] == .array([.string("CGST 9%"), .string("SGST 9%")]))
        #expect(model["accent"] == .string("#0B6E4F") && model["seller"]?["tax_id_label"] == .string("GSTIN"))
        #expect(model["buyer"]?["name"] == .string("Globex Société"))
        guard case .array(let rows)? = model["lines"], case .array(let totals)? = model["totals"] else {
            Issue.record("no lines or totals")
            return
        }
        #expect(rows[0]["period"] == .string("15–31 Jan 2025") && rows[0]["quantity"] == .string(""))
        #expect(rows[1]["quantity"] == .string("1234567.5 gb") && rows[1]["gross"] == .string("123,456.75"))
        #expect(rows[0]["taxes"] == .array([.string("44.42"), .string("44.42")]))
        #expect(
            totals.map { $0 } == [
                .object(["label": .string("Subtotal"), "value": .string("124,005.14")]),
                .object(["label": .string("Discount"), "value": .string("\u{2212}54.84")]),
                .object(["label": .string("Net"), "value": .string("123,950.30")]),
                .object(["label": .string("CGST 9%"), "value": .string("11,155.53")]),
                .object(["label": .string("SGST 9%"), "value": .string("11,155.53")]),
            ])
        #expect(model["total"] == .string("INR 146,261.36") && model["amount_due"] == .string("INR 146,261.36"))
        #expect(model["terms"] == .string("Payment due by 3 Mar 2025 (30 days)."))
        #expect(!String(decoding: model.serialized(), as: UTF8.self).lowercased().contains("covenant"))
    }

    @Test("No taxes: an invoice, not a tax invoice; a customer without a profile is named by its id")
    func untaxed() throws {
        var text = Self.invoice
        for tax in [
            #"{"code":"cgst","rate":"9","amount":"44.42"},{"code":"sgst","rate":"9","amount":"44.42"}"#,
            #"{"code":"cgst","rate":"9","amount":"11111.11"},{"code":"sgst","rate":"9","amount":"11111.11"}"#,
        ] {
            text = text.replacingOccurrences(of: tax, with: "")
        }
        let data = try #require(JSONValue.parse(Array(text.utf8)))
        let model = try InvoiceDocument.model(invoice: data, settings: TenantBillingSettings())
        #expect(model["title"] == .string("Invoice") && model["tax_names"] == .array([]))
        #expect(
            model["buyer"]?["name"] == .string("cust-1") && model["accent"] == .string(InvoiceDocument.defaultAccent))
    }

    @Test("Amounts: thousands grouped, a minus sign, the currency's digits")
    func amounts() {
        let inr = Currency(code: "INR")!
        let jpy = Currency(code: "JPY")!
        #expect(InvoiceDocument.amount(Money(minorUnits: 118_699_870, currency: inr)) == "1,186,998.70")
        #expect(InvoiceDocument.amount(Money(minorUnits: -5484, currency: inr)) == "\u{2212}54.84")
        #expect(InvoiceDocument.amount(Money(minorUnits: 1000, currency: jpy)) == "1,000")
        #expect(InvoiceDocument.amount(Money(minorUnits: 99, currency: inr)) == "0.99")
        #expect(InvoiceDocument.amount(Money(minorUnits: 100_000, currency: inr)) == "1,000.00")
    }
}
