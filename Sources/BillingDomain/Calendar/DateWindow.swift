/// The dates a command may name, relative to today in the tenant's zone (`docs/billing.md`,
/// "Limits that protect every tenant"): start, effective and usage dates within
/// `years` of today (the same month and day, clamped to the month's end), and a billing run
/// at most one day ahead. The window keeps one message from making a worker renew a contract
/// for thousands of years or bill months no one will see.
public struct DateWindow: Sendable, Hashable {
    /// How far back and ahead, in years (the operator's setting; 10 by default).
    public let years: Int

    public static let standard = DateWindow(years: 10)

    public init(years: Int) {
        self.years = Swift.max(1, Swift.min(years, 100))
    }

    /// The dates allowed on `today`.
    public func range(today: CalendarDate) -> ClosedRange<CalendarDate> {
        today.adding(months: -12 * years)...today.adding(months: 12 * years)
    }

    /// `date_out_of_range` when `date`, named by `field`, lies outside the window.
    public func problem(_ date: CalendarDate, field: String, today: CalendarDate) -> Rejection? {
        let allowed = range(today: today)
        guard !allowed.contains(date) else { return nil }
        return Rejection(
            .dateOutOfRange, "\(field) \(date) is outside \(allowed.lowerBound) to \(allowed.upperBound)",
            details: [
                "earliest_allowed_date": allowed.lowerBound.description,
                "latest_allowed_date": allowed.upperBound.description,
            ])
    }

    /// `date_out_of_range` for a billing run dated more than a day after `today`.
    public static func runProblem(asOf: CalendarDate, today: CalendarDate) -> Rejection? {
        let latest = today.adding(days: 1)
        guard asOf > latest else { return nil }
        return Rejection(
            .dateOutOfRange, "as_of \(asOf) is more than one day after today (\(today))",
            details: ["latest_allowed_date": latest.description])
    }
}
