public import Foundation

/// A tenant's IANA time zone: every billing date is a calendar date in it.
public struct TenantTimeZone: Sendable, Hashable {
    public let identifier: String
    private let zone: TimeZone

    public static let utc = TenantTimeZone(validated: TimeZone(identifier: "UTC")!, "UTC")

    /// The zone of an IANA name (`"Asia/Kolkata"`), or `nil` when the name is unknown.
    public init?(identifier: String) {
        guard !identifier.isEmpty, let zone = TimeZone(identifier: identifier) else { return nil }
        self.init(validated: zone, identifier)
    }

    private init(validated zone: TimeZone, _ identifier: String) {
        self.zone = zone
        self.identifier = identifier
    }

    /// The local calendar date at `instant`.
    public func date(of instant: Date) -> CalendarDate {
        let seconds =
            Int(instant.timeIntervalSince1970.rounded(.down))
            + zone.secondsFromGMT(for: instant)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        return CalendarDate(daysSinceEpoch: days)
    }

    /// The instant local midnight begins on `date` (the first instant whose local date is
    /// `date`, which differs from 00:00 on days a transition skips midnight).
    public func startOfDay(_ date: CalendarDate) -> Date {
        let midnightUTC = TimeInterval(date.daysSinceEpoch) * 86_400
        var guess = Date(timeIntervalSince1970: midnightUTC)
        for _ in 0..<3 {
            let offset = TimeInterval(zone.secondsFromGMT(for: guess))
            let candidate = Date(timeIntervalSince1970: midnightUTC - offset)
            if candidate == guess { break }
            guess = candidate
        }
        while self.date(of: guess) < date {
            guess += 60
        }
        return guess
    }

    public static func == (lhs: TenantTimeZone, rhs: TenantTimeZone) -> Bool {
        lhs.identifier == rhs.identifier
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(identifier)
    }
}
