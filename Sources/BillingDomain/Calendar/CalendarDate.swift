/// A calendar date (proleptic Gregorian), without a time or a zone: a day in the tenant's time
/// zone. Dates travel as `YYYY-MM-DD`.
public struct CalendarDate: Sendable, Hashable {
    /// Year, month and day in one word, the year in the high bits (`year << 9 | month << 5 |
    /// day`), so that dates order as the words do. Dates sit in every period, line and key:
    /// four bytes instead of three `Int`s keep those small and their comparisons one instruction.
    private let packed: UInt32

    public var year: Int { Int(packed >> 9) }
    public var month: Int { Int(packed >> 5 & 0xF) }
    public var day: Int { Int(packed & 0x1F) }

    /// The date, or `nil` when no such day exists (2025-02-29, 2025-13-01).
    public init?(year: Int, month: Int, day: Int) {
        guard CalendarDate.textYears.contains(year), (1...12).contains(month),
            (1...CalendarDate.daysInMonth(year: year, month: month)).contains(day)
        else { return nil }
        self.init(validYear: year, month: month, day: day)
    }

    init(validYear year: Int, month: Int, day: Int) {
        packed = UInt32(year) << 9 | UInt32(month) << 5 | UInt32(day)
    }

    /// Parses strict `YYYY-MM-DD`.
    public init?(iso text: some StringProtocol) {
        self.init(isoUTF8: Array(text.utf8)[...])
    }

    /// A date from the UTF-8 of `YYYY-MM-DD` (inside a longer text, say).
    public init?(isoUTF8 bytes: ArraySlice<UInt8>) {
        let first = bytes.startIndex
        guard bytes.count == 10, bytes[first + 4] == UInt8(ascii: "-"), bytes[first + 7] == UInt8(ascii: "-"),
            let year = CalendarDate.number(bytes[first..<first + 4]),
            let month = CalendarDate.number(bytes[first + 5..<first + 7]),
            let day = CalendarDate.number(bytes[first + 8..<first + 10])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public var daysInMonth: Int { CalendarDate.daysInMonth(year: year, month: month) }

    /// The years `YYYY-MM-DD` text carries, and so the years a date may be made with.
    static let textYears = 1...9999

    /// Whether the year is one of ``textYears``: arithmetic on dates (a term's end, a local day
    /// of a timestamp) can step outside them.
    public var isWithinTextYears: Bool { CalendarDate.textYears.contains(year) }

    /// The first day of this date's month.
    public var startOfMonth: CalendarDate { CalendarDate(validYear: year, month: month, day: 1) }

    /// The first day of the month after this date's month.
    public var startOfNextMonth: CalendarDate {
        month == 12
            ? CalendarDate(validYear: year + 1, month: 1, day: 1)
            : CalendarDate(validYear: year, month: month + 1, day: 1)
    }

    public var isFirstOfMonth: Bool { day == 1 }

    /// This date plus `months` months, in one step from this date, clamped to the last day of
    /// the target month: 2025-01-31 + 1 = 2025-02-28; 2024-01-31 + 3 = 2024-04-30.
    public func adding(months: Int) -> CalendarDate {
        let index = year * 12 + (month - 1) + months
        let targetYear = index / 12
        let targetMonth = index % 12 + 1
        let targetDay = Swift.min(day, CalendarDate.daysInMonth(year: targetYear, month: targetMonth))
        return CalendarDate(validYear: targetYear, month: targetMonth, day: targetDay)
    }

    /// Days since 1970-01-01 (negative before it).
    public var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The date `daysSinceEpoch` days after 1970-01-01.
    public init(daysSinceEpoch days: Int) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(validYear: yoe + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    public func adding(days: Int) -> CalendarDate {
        CalendarDate(daysSinceEpoch: daysSinceEpoch + days)
    }

    /// Whole days from `self` to `other` (negative when `other` is earlier).
    public func days(until other: CalendarDate) -> Int {
        other.daysSinceEpoch - daysSinceEpoch
    }

    public static func min(_ a: CalendarDate, _ b: CalendarDate) -> CalendarDate { a < b ? a : b }
    public static func max(_ a: CalendarDate, _ b: CalendarDate) -> CalendarDate { a < b ? b : a }
}

extension CalendarDate: Comparable {
    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        lhs.packed < rhs.packed
    }
}

extension CalendarDate: CustomStringConvertible {
    /// `YYYY-MM-DD` (a year past 9999, which date arithmetic can reach, has more digits).
    public var description: String {
        TextWriter.text(capacity: TextWriter.digitsCapacity(of: self) + 2) {
            $0.writeDigits(of: self, separator: "-")
        }
    }
}

extension TextWriter {
    /// The bytes of ``writeDigits(of:separator:)`` without separators.
    static func digitsCapacity(of date: CalendarDate) -> Int {
        Swift.max(digits(of: date.year), 4) + 4
    }

    /// The year zero-padded to four digits (more past 9999), then month and day zero-padded to
    /// two, optionally separated.
    mutating func writeDigits(of date: CalendarDate, separator: StaticString?) {
        write(date.year, width: 4)
        if let separator { write(separator) }
        write(date.month, width: 2)
        if let separator { write(separator) }
        write(date.day, width: 2)
    }
}
