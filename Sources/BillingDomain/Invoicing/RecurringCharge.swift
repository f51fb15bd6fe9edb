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
        guard let billed = billedPeriod.intersection(period) else { return [] }
        return billed.monthlyPieces.map { piece in
            let charge = recurringCharge(for: piece)
            return InvoiceLine(
                kind: .recurring, serviceId: serviceId, contractId: id, period: piece,
                description: "\(planName), \(LineDescription.days(of: piece))",
                grossAmount: Money.rounding(charge.gross, in: currency),
                discountAmount: Money.rounding(charge.discount, in: currency))
        }
    }
}

/// How periods read on an invoice line.
enum LineDescription {
    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// `15–31 Jan 2025` for days within one month; `10 Mar 2025 – 14 Jan 2026` otherwise.
    /// The end shown is the last day billed (the period's end is exclusive).
    static func days(of period: BillingPeriod) -> String {
        let last = period.end.adding(days: -1)
        if period.start.year == last.year && period.start.month == last.month {
            return "\(period.start.day)–\(last.day) \(monthNames[last.month - 1]) \(last.year)"
        }
        return "\(day(period.start)) – \(day(last))"
    }

    /// `Jan 2025`.
    static func month(of date: CalendarDate) -> String {
        "\(monthNames[date.month - 1]) \(date.year)"
    }

    private static func day(_ date: CalendarDate) -> String {
        "\(date.day) \(monthNames[date.month - 1]) \(date.year)"
    }
}
