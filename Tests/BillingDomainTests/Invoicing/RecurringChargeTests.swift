import BillingDomain
import Testing

@Suite("Recurring lines at month ends, leap years and term edges")
struct RecurringChargeTests {
    struct EdgeCase: Sendable, CustomTestStringConvertible {
        let name: String
        let start: String
        let termMonths: Int
        /// Expected lines over the whole term: period start, period end, gross.
        let lines: [(String, String, String)]
        var testDescription: String { name }
    }

    /// Fee INR 1000.00, no discount. Each gross hand-checked as 1000 × days / days_in_month,
    /// rounded half up.
    @Test(
        "Whole-term lines",
        arguments: [
            EdgeCase(
                name: "start on the 31st, one month: ends on the clamped 28 Feb", start: "2025-01-31", termMonths: 1,
                lines: [
                    ("2025-01-31", "2025-02-01", "32.26"),  // 1/31 = 32.258…
                    ("2025-02-01", "2025-02-28", "964.29"),
                ]),  // 27/28 = 964.285…
            EdgeCase(
                name: "start on 29 Feb 2024, 12 months: ends 28 Feb 2025", start: "2024-02-29", termMonths: 12,
                lines: [("2024-02-29", "2024-03-01", "34.48")]  // 1/29 = 34.482…
                    + (3...12).map { m in (mm(2024, m), mm(2024, m + 1), "1000.00") }
                    + [
                        ("2025-01-01", "2025-02-01", "1000.00"),
                        ("2025-02-01", "2025-02-28", "964.29"),
                    ]),  // 27/28
            EdgeCase(
                name: "a term crossing a year end", start: "2025-11-20", termMonths: 3,
                lines: [
                    ("2025-11-20", "2025-12-01", "366.67"),  // 11/30 = 366.666…
                    ("2025-12-01", "2026-01-01", "1000.00"),
                    ("2026-01-01", "2026-02-01", "1000.00"),
                    ("2026-02-01", "2026-02-20", "678.57"),
                ]),  // 19/28 = 678.571…
            EdgeCase(
                name: "a one-month contract starting on the 1st: one full month", start: "2025-03-01", termMonths: 1,
                lines: [("2025-03-01", "2025-04-01", "1000.00")]),
            EdgeCase(
                name: "a contract starting on the 1st: whole months only", start: "2025-01-01", termMonths: 3,
                lines: [
                    ("2025-01-01", "2025-02-01", "1000.00"), ("2025-02-01", "2025-03-01", "1000.00"),
                    ("2025-03-01", "2025-04-01", "1000.00"),
                ]),
            EdgeCase(
                name: "start in a leap February, one month", start: "2024-02-10", termMonths: 1,
                lines: [
                    ("2024-02-10", "2024-03-01", "689.66"),  // 20/29 = 689.655…
                    ("2024-03-01", "2024-03-10", "290.32"),
                ]),  // 9/31 = 290.322…
        ])
    func wholeTerm(_ example: EdgeCase) {
        let contract = workedExampleContract(
            start: example.start, terms: ContractTerms(termMonths: example.termMonths, monthlyFee: dec("1000.00")))
        let lines = contract.recurringLines(within: contract.billedPeriod)
        #expect(lines.map(\.period) == example.lines.map { period($0.0, $0.1) })
        #expect(lines.map(\.grossAmount.decimalText) == example.lines.map(\.2))
        #expect(lines.allSatisfy { $0.discountAmount.isZero })
    }

    @Test("Line descriptions: the plan's name as given, any script, then the days billed")
    func descriptions() {
        let contract = workedExampleContract(
            start: "2025-01-05", terms: ContractTerms(termMonths: 12, monthlyFee: dec("1000.00")),
            on: plan(name: "Сервер «Ⅻ» 😀 Premium Plus Extra Long Name"))
        let lines = contract.recurringLines(within: period("2025-01-01", "2025-03-01"))
        #expect(
            lines.map(\.description) == [
                "Сервер «Ⅻ» 😀 Premium Plus Extra Long Name, 5–31 Jan 2025",
                "Сервер «Ⅻ» 😀 Premium Plus Extra Long Name, 1–28 Feb 2025",
            ])
        let short = workedExampleContract(start: "2025-01-15", on: plan(name: "A"))
        #expect(
            short.recurringLines(within: period("2025-12-01", "2026-02-01")).map(\.description) == [
                "A, 1–31 Dec 2025", "A, 1–14 Jan 2026",
            ])
    }

    @Test("Currencies round to their own minor unit: JPY 0, BHD 3")
    func currencies() {
        let yen = workedExampleContract(
            terms: ContractTerms(termMonths: 12, discountPercent: dec("10")), on: plan(fee: "10000", currency: jpy))
        // 10000 × 17/31 = 5483.87… → 5484; discount 548.387… → 548; amount 4936.
        #expect(
            yen.recurringLines(within: period("2025-01-01", "2025-02-01")).map(amounts) == [["5484", "548", "4936"]])
        let dinar = workedExampleContract(
            terms: ContractTerms(termMonths: 12, discountPercent: dec("10")), on: plan(fee: "100.000", currency: bhd))
        // 100 × 17/31 = 54.8387… → 54.839; discount 5.48387… → 5.484; amount 49.355.
        #expect(
            dinar.recurringLines(within: period("2025-01-01", "2025-02-01")).map(amounts) == [
                ["54.839", "5.484", "49.355"]
            ])
    }
}

/// The first of month `m` of `year` (`m` may be 13: January of the next year).
func mm(_ year: Int, _ m: Int) -> String {
    m > 12 ? "\(year + 1)-\(pad(m - 12))-01" : "\(year)-\(pad(m))-01"
}

private func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
