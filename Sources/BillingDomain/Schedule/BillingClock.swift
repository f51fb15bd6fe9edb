public import Foundation

/// A tenant's clock of billing runs: which runs of the 1st are due, in the tenant's time zone.
///
/// A run as of the 1st starts at 00:00 local time on that day. The clock counts from the last
/// run it started; a new tenant's clock starts at its creation, so the first run due is the
/// first 1st after it (a backdated contract is billed in full by that run, never by a burst of
/// past-dated runs). After downtime, every missed 1st is due, oldest first. The clock never
/// reads the time itself: `now` is given.
public struct BillingClock: Sendable, Hashable {
    /// The date of the last run this clock started.
    public private(set) var lastStarted: CalendarDate?
    /// The first day the clock counts from (the tenant's creation date, local).
    public let origin: CalendarDate

    public init(origin: CalendarDate, lastStarted: CalendarDate? = nil) {
        self.origin = origin
        self.lastStarted = lastStarted
    }

    /// The first run not yet started.
    public var nextRun: CalendarDate {
        (lastStarted ?? origin).startOfNextMonth
    }

    /// The runs due at `now`, oldest first, and the clock advanced past them. Calling it again
    /// at the same instant returns nothing: a run is started once per tenant and date.
    public mutating func startDueRuns(at now: Date, in zone: TenantTimeZone) -> [CalendarDate] {
        var due: [CalendarDate] = []
        var next = nextRun
        while zone.startOfDay(next) <= now {
            due.append(next)
            next = next.startOfNextMonth
        }
        if let last = due.last { lastStarted = last }
        return due
    }

    /// When the next run starts, for a timer to sleep until.
    public func nextStart(in zone: TenantTimeZone) -> Date {
        zone.startOfDay(nextRun)
    }
}
