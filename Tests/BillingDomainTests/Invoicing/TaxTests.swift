import BillingDomain
import PropertyBased
import Testing

@Suite("Taxes, legal numbers and due dates (spec: Taxes; Invoice numbers, due dates and documents)")
struct TaxTests {
    static func tax(_ code: String, _ rate: String, isDefault: Bool = true) -> TaxRate {
        TaxRate(code: code, name: code.uppercased(), rate: dec(rate), isDefault: isDefault)!
    }
    static let gst = [tax("cgst", "9"), tax("sgst", "9")]

    static func line(_ gross: String, discount: String? = nil, _ currency: Currency = inr) -> InvoiceLine {
        InvoiceLine(
            kind: .recurring, serviceId: "vm-1", contractId: nil, period: period("2025-01-01", "2025-02-01"),
            description: "VM", grossAmount: money(gross, currency), discountAmount: discount.map { money($0, currency) }
        )
    }

    static func invoice(_ lines: [InvoiceLine], _ currency: Currency = inr) throws -> Invoice {
        try Invoice(
            id: "INV-c-20250201-\(currency.code)", customerId: "c", currency: currency,
            issueDate: date("2025-02-01"), lines: lines)
    }

    @Test("The worked example under CGST 9 % + SGST 9 %: 493.55 bears 44.42 of each; total 582.39")
    func indianGST() throws {
        let final = try Self.invoice([Self.line("548.39", discount: "54.84")])
            .finalised(number: "INV-000001", dueDate: date("2025-03-03"), taxes: Self.gst)
        // 493.55 × 9 / 100 = 44.4195, rounded half up to 44.42, once per line and tax.
        #expect(
            final.lineTaxes == [
                [
                    LineTax(code: "cgst", rate: dec("9"), amount: money("44.42")),
                    LineTax(code: "sgst", rate: dec("9"), amount: money("44.42")),
                ]
            ])
        #expect(
            [final.subtotal, final.discountTotal, final.netTotal, final.taxTotal, final.total, final.amountDue]
                .map(\.decimalText) == ["548.39", "54.84", "493.55", "88.84", "582.39", "582.39"])
        #expect(final.taxTotals.map(\.amount.decimalText) == ["44.42", "44.42"])
        #expect(final.number == "INV-000001" && final.dueDate == date("2025-03-03"))
    }

    @Test("Each line is taxed and rounded on its own: two lines of 0.05 at 10 % bear 0.01 each, not 0.01 in all")
    func roundedPerLine() throws {
        let final = try Self.invoice([Self.line("0.05"), Self.line("0.05")])
            .finalised(number: "INV-000002", dueDate: date("2025-03-03"), taxes: [Self.tax("vat", "10")])
        #expect(final.lineTaxes.map { $0.map(\.amount.decimalText) } == [["0.01"], ["0.01"]])
        #expect(final.taxTotal.decimalText == "0.02" && final.total.decimalText == "0.12")
    }

    @Test("A line below zero bears taxes below zero; a total below zero leaves nothing due")
    func negativeLine() throws {
        let final = try Self.invoice([Self.line("-10.05")])
            .finalised(number: "INV-000003", dueDate: date("2025-03-03"), taxes: [Self.tax("vat", "10")])
        // −1.005 rounds away from zero to −1.01.
        #expect(final.taxTotal.decimalText == "-1.01" && final.total.decimalText == "-11.06")
        #expect(final.amountDue.decimalText == "0.00")
    }

    @Test("With no taxes every amount is what it was before taxes existed")
    func noTaxes() throws {
        let invoice = try Self.invoice([Self.line("548.39", discount: "54.84"), Self.line("-3.00")])
        let final = try invoice.finalised(number: "INV-000004", dueDate: date("2025-03-03"), taxes: [])
        #expect(final.lineTaxes.isEmpty && final.taxTotal.isZero && final.total == invoice.netTotal)
        #expect(final.total.decimalText == "490.55")
    }

    @Test("Currencies of 0 and 3 minor units: JPY 1,005 at 8 % is 80; BHD 1.005 at 10 % is 0.101")
    func minorUnits() throws {
        let jpy = Currency(code: "JPY")!
        let bhd = Currency(code: "BHD")!
        let yen = try Self.invoice([Self.line("1005", jpy)], jpy)
            .finalised(number: "A-000001", dueDate: date("2025-03-03"), taxes: [Self.tax("ct", "8")])
        #expect(yen.taxTotal.decimalText == "80")
        let dinar = try Self.invoice([Self.line("1.005", bhd)], bhd)
            .finalised(number: "A-000002", dueDate: date("2025-03-03"), taxes: [Self.tax("vat", "10")])
        #expect(dinar.taxTotal.decimalText == "0.101")
    }

    @Test("Defaults apply to a customer naming none; codes replace them; exemption drops all; unknown codes are named")
    func treatment() {
        let taxes = [Self.tax("cgst", "9"), Self.tax("sgst", "9"), Self.tax("igst", "18", isDefault: false)]
        #expect(TaxTreatment.tenantDefaults.applicable(from: taxes).map(\.code) == ["cgst", "sgst"])
        #expect(TaxTreatment.codes(["igst"]).applicable(from: taxes).map(\.code) == ["igst"])
        #expect(TaxTreatment.exempt.applicable(from: taxes).isEmpty)
        #expect(TaxTreatment.codes(["igst", "vat"]).unknownCodes(among: taxes) == ["vat"])
        // A code the tenant dropped later simply stops applying.
        #expect(TaxTreatment.codes(["igst", "vat"]).applicable(from: taxes).map(\.code) == ["igst"])
    }

    @Test("A rate outside 0–100 is no tax")
    func rateBounds() {
        #expect(TaxRate(code: "x", name: "X", rate: dec("-0.01"), isDefault: true) == nil)
        #expect(TaxRate(code: "x", name: "X", rate: dec("100.01"), isDefault: true) == nil)
        #expect(TaxRate(code: "x", name: "X", rate: dec("100"), isDefault: true) != nil)
        #expect(TaxRate(code: "x", name: "X", rate: .zero, isDefault: true) != nil)
    }

    @Test("Any lines and rates: each tax is within half a minor unit of exact, and the total adds up")
    func taxProperty() async {
        let cents = Gen.int(in: -1_000_000...1_000_000)
        let rates = Gen.int(in: 0...10_000)  // hundredths of a percent: 0 to 100 %
        await propertyCheck(count: 300, input: cents.array(of: 1...8), rates.array(of: 0...3)) { amounts, basis in
            let lines = amounts.map { Self.line(Money(minorUnits: Int128($0), currency: inr).decimalText) }
            let taxes = basis.enumerated().map {
                Self.tax("t\($0.offset)", Rational(Int128($0.element), 100).exactDecimalText!)
            }
            guard let final = try? Self.invoice(lines).finalised(number: "N", dueDate: date("2025-03-03"), taxes: taxes)
            else {
                Issue.record("no invoice")
                return
            }
            var sum: Int128 = 0
            for (line, onLine) in zip(lines, final.lineTaxes) {
                for (tax, rate) in zip(onLine, taxes) {
                    let exact = rate.rate * line.amount.amount / Rational(100)
                    let error = tax.amount.amount - exact
                    #expect(error <= Rational(1, 200) && error >= Rational(-1, 200))
                    sum += tax.amount.minorUnits
                }
            }
            #expect(final.taxTotal.minorUnits == sum)
            #expect(final.total.minorUnits == final.netTotal.minorUnits + sum)
            #expect(final.amountDue.minorUnits == max(0, final.total.minorUnits))
        }
    }

    @Test("Grouping per service: one invoice per service, in the order services first appear, lines kept in order")
    func perService() throws {
        func line(_ service: String, _ gross: String) -> InvoiceLine {
            InvoiceLine(
                kind: .recurring, serviceId: service, contractId: nil, period: period("2025-01-01", "2025-02-01"),
                description: service, grossAmount: money(gross))
        }
        let invoice = try Self.invoice([line("vm-1", "1.00"), line("sim-1", "2.00"), line("vm-1", "3.00")])
        #expect(invoice.grouped(.combined) == [invoice])
        let parts = invoice.grouped(.perService)
        #expect(parts.map(\.id) == ["INV-c-20250201-INR-vm-1", "INV-c-20250201-INR-sim-1"])
        #expect(parts.map { $0.lines.map(\.grossAmount.decimalText) } == [["1.00", "3.00"], ["2.00"]])
        #expect(parts.map(\.total.decimalText) == ["4.00", "2.00"])
    }

    @Test("Legal numbers: the prefix and 1, 2, 3… zero-padded to at least six digits")
    func numbering() {
        var numbering = InvoiceNumbering()
        #expect((0..<3).map { _ in numbering.next(prefix: "INV-") } == ["INV-000001", "INV-000002", "INV-000003"])
        #expect(InvoiceNumbering.number(prefix: "ACME/", sequence: 1_234_567) == "ACME/1234567")
        var resumed = InvoiceNumbering(taken: 41)
        #expect(resumed.next(prefix: "") == "000042" && resumed.taken == 42)
    }
}
