import BillingDomain
import Testing

@Suite("Billing properties over many contracts and run schedules")
struct BillingPropertyTests {
    static let terms = [1, 3, 6, 12, 24, 36, 48, 60]

    /// Every start day 1–28 of every month of 2025, with every term: 2,688 contracts.
    static var contracts: [Contract] {
        var result: [Contract] = []
        for month in 1...12 {
            for day in 1...28 {
                for term in terms {
                    let start = CalendarDate(year: 2025, month: month, day: day)!
                    result.append(
                        workedExampleContract(
                            id: "c-\(start)-\(term)", start: start.description,
                            terms: ContractTerms(
                                termMonths: term, monthlyFee: dec("1234.56"), discountPercent: dec("7.5"))))
                }
            }
        }
        return result
    }

    @Test("A full term's lines add up to term × fee less discount, within one minor unit per line")
    func fullTermSum() {
        var checked = 0
        for contract in Self.contracts {
            // The first and last months are prorated by their own lengths; when those differ
            // (a leap February at one end only) the term is a few days' worth different by design.
            guard contract.start.daysInMonth == contract.termEnd.daysInMonth else { continue }
            let lines = contract.recurringLines(within: contract.billedPeriod)
            let billed = lines.reduce(Int128(0)) { $0 + $1.amount.minorUnits }
            // Exact: 1234.56 × term × (1 − 0.075), in minor units.
            let expected = dec("123456") * contract.terms.termMonths * dec("0.925")
            let difference = Rational(billed) - expected
            #expect(difference.magnitudeAtMost(lines.count), "\(contract.id): \(billed) vs \(expected)")
            checked += 1
        }
        #expect(checked > 1500)  // most contracts qualify; the guard is not vacuous
    }

    /// A deterministic pseudo-random sequence (a linear congruential generator) for run dates.
    struct Schedule: Sequence, IteratorProtocol {
        var state: UInt64
        mutating func next() -> Int? {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
    }

    @Test(
        "Runs on any schedule — repeated, out of order, mid-month — bill each contract day exactly once",
        arguments: [1, 7, 42, 1234])
    func billedOnce(seed: UInt64) {
        let contracts = Self.contracts.enumerated().filter { $0.offset % 37 == 0 }.map(\.element)
        var ledger = CustomerLedger(customerId: "cust-1")
        contracts.forEach { ledger.record($0) }
        var schedule = Schedule(state: seed)
        var lines: [InvoiceLine] = []
        var invoices: [Invoice] = []
        for _ in 0..<120 {
            // Any date from 2025-01-01 to about 2031, often repeated or earlier than the last.
            let run = date("2025-01-01").adding(days: schedule.next()! % 2400)
            let issued = ledger.runBilling(asOf: run)
            invoices += issued
            lines += issued.flatMap(\.lines)
        }
        invoices += ledger.runBilling(asOf: date("2031-01-01"))
        lines = invoices.flatMap(\.lines)
        for contract in contracts {
            let periods = lines.filter { $0.contractId == contract.id }.map(\.period).sorted { $0.start < $1.start }
            // Consecutive, disjoint, and covering [start, end) exactly.
            #expect(periods.first?.start == contract.start)
            #expect(periods.last?.end == contract.end)
            #expect(zip(periods, periods.dropFirst()).allSatisfy { $0.end == $1.start })
            // Same amounts as billing the whole term at once.
            let whole = contract.recurringLines(within: contract.billedPeriod)
            #expect(
                lines.filter { $0.contractId == contract.id }.map(\.amount).sorted() == whole.map(\.amount).sorted())
        }
        // Totals equal the sum of lines on every invoice; invoice ids never repeat.
        for invoice in invoices {
            #expect(invoice.total.minorUnits == invoice.lines.reduce(0) { $0 + $1.amount.minorUnits })
            #expect(invoice.subtotal.minorUnits - invoice.discountTotal.minorUnits == invoice.total.minorUnits)
        }
        #expect(Set(invoices.map(\.id)).count == invoices.count)
    }
}

extension Rational {
    func magnitudeAtMost(_ bound: Int) -> Bool {
        self <= Rational(bound) && self >= Rational(-bound)
    }
}
