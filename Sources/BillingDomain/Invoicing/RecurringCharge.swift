/// The exact recurring charge of a contract for the days of one calendar month:
/// `exact = fee × days_in_contract(M) / days_in_month(M)`, and the contract discount on it.
public struct RecurringCharge: Sendable, Hashable {
    public let period: BillingPeriod
    public let gross: Rational
    public let discount: Rational

    public var net: Rational { gross - discount }

    /// The charge for `period`, which must lie within one calendar month.
    public init(monthlyFee: Money, discountPercent: Rational, period: BillingPeriod) {
        precondition(period.end <= period.start.startOfNextMonth, "\(period) spans more than one month")
        self.period = period
        self.gross = monthlyFee.amount * Rational(period.days) / period.start.daysInMonth
        self.discount = discountPercent.percent(of: gross)
    }
}

extension Contract {
    /// The exact charge for the days of `period` (within one month).
    public func recurringCharge(for period: BillingPeriod) -> RecurringCharge {
        RecurringCharge(monthlyFee: monthlyFee, discountPercent: terms.discountPercent, period: period)
    }

    /// Recurring lines for the contract's days within `period`, one per calendar month, each
    /// rounded once: gross = round(exact), discount = round(exact × pct / 100).
    public func recurringLines(within period: BillingPeriod) -> [InvoiceLine] {
        var lines: [InvoiceLine] = []
        appendRecurringLines(within: period, to: &lines)
        return lines
    }

    /// ``recurringLines(within:)`` appended to `lines`.
    func appendRecurringLines(within period: BillingPeriod, to lines: inout [InvoiceLine]) {
        guard let billed = billedPeriod.intersection(period) else { return }
        billed.forEachMonthlyPiece { piece in
            let charge = recurringCharge(for: piece)
            lines.append(
                InvoiceLine(
                    kind: .recurring, serviceId: serviceId, contractId: id, period: piece,
                    description: LineDescription.recurring(planName: planName, period: piece),
                    grossAmount: Money.rounding(charge.gross, in: currency),
                    discountAmount: Money.rounding(charge.discount, in: currency)))
        }
    }
}

/// How periods read on an invoice line (written with a ``TextWriter``).
extension BillingPeriod {
    /// The days billed, as a document shows them: `15–31 Jan 2025`, `10 Mar 2025 – 14 Jan 2026`.
    public var shownDays: String { LineDescription.days(of: self) }
}

extension CalendarDate {
    /// The date as a document shows it: `1 Feb 2025`.
    public var shownText: String {
        "\(day) \(LineDescription.monthNames[month - 1]) \(year)"
    }
}

enum LineDescription {
    static let monthNames: [StaticString] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// `VM, 15–31 Jan 2025`: a recurring line.
    static func recurring(planName: String, period: BillingPeriod) -> String {
        TextWriter.text(capacity: planName.utf8.count + 2 + LineDescription.daysCapacity(of: period)) {
            $0.write(contentsOf: planName)
            $0.write(", ")
            $0.writeDays(of: period)
        }
    }

    /// `mb usage, Jan 2025`, `mb late usage, Jan 2025`: a usage line.
    static func usage(metric: String, month: CalendarDate, late: Bool) -> String {
        // " late usage, " and "Jan ", then the year.
        TextWriter.text(capacity: metric.utf8.count + 17 + TextWriter.digits(of: month.year)) {
            $0.write(contentsOf: metric)
            $0.write(late ? " late usage, " : " usage, ")
            $0.writeMonth(of: month)
        }
    }

    /// `15–31 Jan 2025` for days within one month; `10 Mar 2025 – 14 Jan 2026` otherwise.
    /// The end shown is the last day billed (the period's end is exclusive).
    static func days(of period: BillingPeriod) -> String {
        TextWriter.text(capacity: daysCapacity(of: period)) { $0.writeDays(of: period) }
    }

    /// The most ``TextWriter/writeDays(of:)`` writes for `period`: `10 Mar 2025 – 14 Jan 2026`
    /// (the dash 3 bytes), 27 with four-digit years.
    static func daysCapacity(of period: BillingPeriod) -> Int {
        19 + 2 * TextWriter.digits(of: Swift.max(period.start.year, period.end.year))
    }
}

extension TextWriter {
    mutating func writeDays(of period: BillingPeriod) {
        let last = period.end.adding(days: -1)
        if period.start.year == last.year && period.start.month == last.month {
            write(period.start.day)
            write("–")
            write(last.day)
            write(" ")
            writeMonth(of: last)
        } else {
            writeDay(period.start)
            write(" – ")
            writeDay(last)
        }
    }

    /// `Jan 2025`.
    mutating func writeMonth(of date: CalendarDate) {
        write(LineDescription.monthNames[date.month - 1])
        write(" ")
        write(date.year)
    }

    /// `15 Jan 2025`.
    private mutating func writeDay(_ date: CalendarDate) {
        write(date.day)
        write(" ")
        writeMonth(of: date)
    }
}
