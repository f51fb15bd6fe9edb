/// A span of days `[start, end)`: start inclusive, end exclusive. A 12-month contract from
/// 2025-01-15 is `[2025-01-15, 2026-01-15)` and bills its last day on 2026-01-14.
public struct BillingPeriod: Sendable, Hashable {
    public let start: CalendarDate
    public let end: CalendarDate

    /// The period; `end` must not be before `start`.
    public init(start: CalendarDate, end: CalendarDate) {
        precondition(start <= end, "a period cannot end (\(end)) before it starts (\(start))")
        self.start = start
        self.end = end
    }

    /// The calendar month containing `date`.
    public static func month(of date: CalendarDate) -> BillingPeriod {
        BillingPeriod(start: date.startOfMonth, end: date.startOfNextMonth)
    }

    public var days: Int { start.days(until: end) }
    public var isEmpty: Bool { start == end }

    public func contains(_ date: CalendarDate) -> Bool { start <= date && date < end }

    /// The days both periods share, or `nil` when they share none.
    public func intersection(_ other: BillingPeriod) -> BillingPeriod? {
        let start = CalendarDate.max(self.start, other.start)
        let end = CalendarDate.min(self.end, other.end)
        return start < end ? BillingPeriod(start: start, end: end) : nil
    }

    /// The period cut at calendar-month boundaries, in order: each piece lies in one month.
    public var monthlyPieces: [BillingPeriod] {
        var pieces: [BillingPeriod] = []
        forEachMonthlyPiece { pieces.append($0) }
        return pieces
    }

    /// Calls `body` with each of ``monthlyPieces`` in order, without collecting them.
    public func forEachMonthlyPiece(_ body: (BillingPeriod) throws -> Void) rethrows {
        var cursor = start
        while cursor < end {
            let next = CalendarDate.min(cursor.startOfNextMonth, end)
            try body(BillingPeriod(start: cursor, end: next))
            cursor = next
        }
    }
}

extension BillingPeriod: CustomStringConvertible {
    public var description: String { "[\(start), \(end))" }
}
