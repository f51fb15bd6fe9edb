import BillingDomain
import Testing

@Suite("Invoice composition by billing runs")
struct CustomerLedgerTests {
    /// Runs on the 1st of each month from `first` for `count` months; the invoices by date.
    func monthlyRuns(_ ledger: inout CustomerLedger, from first: String, count: Int) -> [CalendarDate: [Invoice]] {
        var result: [CalendarDate: [Invoice]] = [:]
        var run = date(first)
        for _ in 0..<count {
            result[run] = ledger.runBilling(asOf: run)
            run = run.adding(months: 1)
        }
        return result
    }

    @Test("The spec's worked example, month by month (spec: Recurring charges)")
    func workedExample() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(workedExampleContract())
        let invoices = monthlyRuns(&ledger, from: "2025-02-01", count: 14)

        let first = try #require(invoices[date("2025-02-01")]?.first)
        #expect(first.lines.count == 1)
        #expect(amounts(first.lines[0]) == ["548.39", "54.84", "493.55"])
        #expect(first.lines[0].period == period("2025-01-15", "2025-02-01"))
        #expect(first.lines[0].description == "VM Standard, 15–31 Jan 2025")
        #expect(
            [first.subtotal, first.discountTotal, first.total].map(\.decimalText) == ["548.39", "54.84", "493.55"])
        #expect(first.id == "INV-cust-1-20250201-INR")

        var run = date("2025-03-01")
        while run <= date("2026-01-01") {
            let invoice = try #require(invoices[run]?.first, "\(run)")
            #expect(invoice.lines.map(amounts) == [["1000.00", "100.00", "900.00"]], "\(run)")
            run = run.adding(months: 1)
        }

        let last = try #require(invoices[date("2026-02-01")]?.first)
        #expect(last.lines.map(amounts) == [["451.61", "45.16", "406.45"]])
        #expect(last.lines[0].period == period("2026-01-01", "2026-01-15"))
        #expect(invoices[date("2026-03-01")] == [])
    }

    @Test(
        "Plan change on 2025-02-15: an invoice at once for 1–14 Feb, then 15–28 Feb on the new plan (spec: seed example)"
    )
    func planChange() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        let old = workedExampleContract()
        ledger.record(old)
        _ = ledger.runBilling(asOf: date("2025-02-01"))
        let change = try old.changingPlan(
            to: plan("vm-premium", name: "VM Premium", fee: "2000.00"), effective: date("2025-02-15"),
            tenant: tenant(), newContractId: "c-2"
        ).get()

        let immediate = try ledger.invoicePlanChange(change).get()
        let invoice = try #require(immediate.first)
        #expect(immediate.count == 1)
        #expect(invoice.issueDate == date("2025-02-15"))
        // 14/28 of the old 1000.00 = 500.00, less 10 %.
        #expect(invoice.lines.map(amounts) == [["500.00", "50.00", "450.00"]])
        #expect(invoice.lines[0].period == period("2025-02-01", "2025-02-15"))
        #expect(invoice.lines[0].contractId == old.id)

        let march = try #require(ledger.runBilling(asOf: date("2025-03-01")).first)
        // Only the new contract: 14/28 of 2000.00 = 1000.00, less the kept 10 %.
        #expect(march.lines.map(amounts) == [["1000.00", "100.00", "900.00"]])
        #expect(march.lines[0].period == period("2025-02-15", "2025-03-01"))
        #expect(march.lines[0].contractId == "c-2")
    }

    @Test(
        "A second invoice of a day and currency is numbered, whatever order the dates came in, and a snapshot keeps the count"
    )
    func sameDayNumbering() throws {
        func change(
            _ ledger: inout CustomerLedger, _ contract: Contract, on day: String, to id: String
        ) throws -> [String] {
            let change = try contract.changingPlan(
                to: plan("vm-premium", fee: "2000.00"), effective: date(day), tenant: tenant(), newContractId: id
            ).get()
            return try ledger.invoicePlanChange(change).get().map(\.id)
        }
        var ledger = CustomerLedger(customerId: "cust-1")
        let contracts = ["c-1", "c-3", "c-5"].map { workedExampleContract(id: $0, start: "2025-03-05") }
        for contract in contracts { ledger.record(contract) }
        #expect(try change(&ledger, contracts[0], on: "2025-03-20", to: "c-2") == ["INV-cust-1-20250320-INR"])
        // An earlier day after a later one.
        #expect(try change(&ledger, contracts[1], on: "2025-03-10", to: "c-4") == ["INV-cust-1-20250310-INR"])
        var restored = CustomerLedger(snapshot: ledger.snapshot)
        #expect(restored == ledger)
        #expect(restored.snapshot.issued.map(\.date) == [date("2025-03-10"), date("2025-03-20")])
        #expect(try change(&restored, contracts[2], on: "2025-03-20", to: "c-6") == ["INV-cust-1-20250320-INR-2"])
        #expect(restored.runBilling(asOf: date("2025-04-01")).map(\.id) == ["INV-cust-1-20250401-INR"])
        #expect(restored.snapshot.issued.map(\.count) == [1, 2, 1])
    }

    @Test("A plan change on the 1st issues no empty invoice")
    func planChangeOnFirst() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        let old = workedExampleContract()
        ledger.record(old)
        _ = ledger.runBilling(asOf: date("2025-03-01"))
        let change = try old.changingPlan(
            to: plan("vm-premium", fee: "2000.00"), effective: date("2025-03-01"), tenant: tenant(),
            newContractId: "c-2"
        ).get()
        #expect(try ledger.invoicePlanChange(change).get() == [])
    }

    @Test("Cancellation: the last month pro rata up to E and the early-termination line on the next run")
    func cancellation() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        let contract = workedExampleContract(
            terms: ContractTerms(
                termMonths: 12, monthlyFee: dec("1000.00"), discountPercent: dec("10"), earlyTermination: .remainder))
        ledger.record(contract)
        _ = monthlyRuns(&ledger, from: "2025-02-01", count: 7)  // through 2025-08-01
        #expect(ledger.checkEnding(contractId: contract.id, on: date("2025-07-20"))?.code == .periodAlreadyInvoiced)
        #expect(ledger.checkEnding(contractId: contract.id, on: date("2025-08-10")) == nil)
        let cancellation = try contract.cancelled(effective: date("2025-08-10"), tenant: tenant()).get()
        ledger.record(cancellation.contract)
        ledger.add(try #require(cancellation.earlyTerminationFee))

        let september = try #require(ledger.runBilling(asOf: date("2025-09-01")).first)
        // 9/31 × 1000 = 290.3225… → 290.32; discount 29.0322… → 29.03; then the remainder fee.
        #expect(september.lines.map(amounts) == [["290.32", "29.03", "261.29"], ["4645.16", "0.00", "4645.16"]])
        #expect(september.lines.map(\.kind) == [.recurring, .earlyTermination])
        #expect(
            september.lines.map(\.description) == [
                "VM Standard, 1–9 Aug 2025", "Early termination, 10 Aug 2025 – 14 Jan 2026",
            ])
        #expect(september.total == money("4906.45"))
        #expect(ledger.runBilling(asOf: date("2025-10-01")) == [])
    }

    @Test("A repeated or older run issues nothing new")
    func repeatedRun() {
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(workedExampleContract())
        #expect(ledger.runBilling(asOf: date("2025-04-01")).count == 1)
        #expect(ledger.runBilling(asOf: date("2025-04-01")) == [])
        #expect(ledger.runBilling(asOf: date("2025-03-01")) == [])
        #expect(ledger.runBilling(asOf: date("2025-04-20")) == [])
    }

    @Test("A backdated contract is billed in full by the next run, one line per month")
    func backdated() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(workedExampleContract())
        let invoice = try #require(ledger.runBilling(asOf: date("2025-04-01")).first)
        #expect(
            invoice.lines.map(amounts) == [
                ["548.39", "54.84", "493.55"], ["1000.00", "100.00", "900.00"], ["1000.00", "100.00", "900.00"],
            ])
        // Totals are sums of rounded lines.
        #expect(
            [invoice.subtotal, invoice.discountTotal, invoice.total].map(\.decimalText) == [
                "2548.39", "254.84", "2293.55",
            ])
    }

    @Test("A run on a date other than the 1st covers the months ended on or before it")
    func midMonthRun() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(workedExampleContract())
        let invoice = try #require(ledger.runBilling(asOf: date("2025-03-15")).first)
        #expect(
            invoice.lines.map(\.period) == [period("2025-01-15", "2025-02-01"), period("2025-02-01", "2025-03-01")])
        #expect(invoice.issueDate == date("2025-03-15"))
    }

    static let gigabytes = try! UsagePrice.validated(metric: "gb", model: .perUnit(unitPrice: dec("0.10"))).get()

    @Test("PAYG usage is summed per month and billed on the invoice covering the month")
    func paygUsage() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        for (day, quantity) in [("2025-01-03", "100"), ("2025-01-31", "23.5"), ("2025-02-01", "7")] {
            ledger.recordUsage(
                serviceId: "sim-1", metric: "gb", quantity: dec(quantity), on: date(day), price: Self.gigabytes,
                currency: usd)
        }
        let february = try #require(ledger.runBilling(asOf: date("2025-02-01")).first)
        #expect(february.currency == usd)
        #expect(february.lines.count == 1)
        // 123.5 GB × 0.10 = 12.35.
        #expect(february.lines[0].quantity == dec("123.5"))
        #expect(amounts(february.lines[0]) == ["12.35", "0.00", "12.35"])
        #expect(february.lines[0].late == false)
        #expect(february.lines[0].period == period("2025-01-01", "2025-02-01"))
        let march = try #require(ledger.runBilling(asOf: date("2025-03-01")).first)
        #expect(march.lines.map(amounts) == [["0.70", "0.00", "0.70"]])
    }

    @Test("Late usage: the price of the month's new total less what was billed, on the next invoice, marked late")
    func lateUsage() throws {
        let graduated = try UsagePrice.validated(
            metric: "sms",
            model: .graduated(tiers: [
                PriceTier(upTo: dec("100"), unitPrice: dec("0.50")), PriceTier(upTo: nil, unitPrice: dec("0.20")),
            ])
        ).get()
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.recordUsage(
            serviceId: "sim-1", metric: "sms", quantity: dec("80"), on: date("2025-01-10"), price: graduated,
            currency: usd)
        let february = try #require(ledger.runBilling(asOf: date("2025-02-01")).first)
        #expect(february.lines.map(amounts) == [["40.00", "0.00", "40.00"]])  // 80 × 0.50

        // 50 more January SMS arrive in February: the month's total is 130.
        ledger.recordUsage(
            serviceId: "sim-1", metric: "sms", quantity: dec("50"), on: date("2025-01-28"), price: graduated,
            currency: usd)
        let march = try #require(ledger.runBilling(asOf: date("2025-03-01")).first)
        let late = try #require(march.lines.first)
        // price(130) = 100 × 0.50 + 30 × 0.20 = 56.00; billed 40.00; late line 16.00.
        #expect(amounts(late) == ["16.00", "0.00", "16.00"])
        #expect(late.late && late.quantity == dec("50"))
        #expect(late.period == period("2025-01-01", "2025-02-01"))
        #expect(late.description == "sms late usage, Jan 2025")
        // Never billed twice.
        #expect(ledger.runBilling(asOf: date("2025-04-01")) == [])
    }

    @Test("Usage of a month an earlier run covered, first seen later, is late")
    func lateFirstUsage() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(workedExampleContract())
        _ = ledger.runBilling(asOf: date("2025-02-01"))
        ledger.recordUsage(
            serviceId: "sim-1", metric: "gb", quantity: dec("10"), on: date("2025-01-20"), price: Self.gigabytes,
            currency: inr)
        let march = try #require(ledger.runBilling(asOf: date("2025-03-01")).first)
        #expect(march.lines.filter(\.late).map(amounts) == [["1.00", "0.00", "1.00"]])
    }

    @Test("One invoice per currency")
    func perCurrency() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(workedExampleContract())
        ledger.recordUsage(
            serviceId: "sim-1", metric: "gb", quantity: dec("10"), on: date("2025-01-20"), price: Self.gigabytes,
            currency: usd)
        // A currency whose code sorts first, on a line that comes last.
        let aed = try #require(Currency(code: "AED"))
        ledger.recordUsage(
            serviceId: "sim-2", metric: "gb", quantity: dec("20"), on: date("2025-01-20"), price: Self.gigabytes,
            currency: aed)
        let invoices = ledger.runBilling(asOf: date("2025-02-01"))
        #expect(invoices.map(\.currency) == [aed, inr, usd])
        #expect(
            invoices.map(\.id) == ["INV-cust-1-20250201-AED", "INV-cust-1-20250201-INR", "INV-cust-1-20250201-USD"])
        #expect(invoices.map(\.total) == [money("2.00", aed), money("493.55"), money("1.00", usd)])
    }

    @Test("An invoice refuses a line of another currency")
    func invoiceCurrency() {
        let line = InvoiceLine(
            kind: .usage, serviceId: "s", contractId: nil, period: period("2025-01-01", "2025-02-01"), description: "x",
            grossAmount: money("1.00", usd))
        #expect(throws: CurrencyMismatch.self) {
            try Invoice(id: "i", customerId: "c", currency: inr, issueDate: date("2025-02-01"), lines: [line])
        }
    }
}
