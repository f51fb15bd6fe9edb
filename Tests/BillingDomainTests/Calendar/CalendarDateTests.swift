import BillingDomain
import Foundation
import Testing

@Suite("Calendar dates, months and periods")
struct CalendarDateTests {
    struct MonthCase: Sendable {
        let start: String
        let months: Int
        let expected: String
    }

    @Test(
        "Adding months is one step from the start, clamped to the month's last day",
        arguments: [
            MonthCase(start: "2025-01-31", months: 1, expected: "2025-02-28"),  // spec
            MonthCase(start: "2024-01-31", months: 3, expected: "2024-04-30"),  // spec: one step
            MonthCase(start: "2024-01-31", months: 1, expected: "2024-02-29"),  // leap year
            MonthCase(start: "2024-02-29", months: 12, expected: "2025-02-28"),
            MonthCase(start: "2024-02-29", months: 48, expected: "2028-02-29"),
            MonthCase(start: "2025-01-15", months: 12, expected: "2026-01-15"),  // spec's contract
            MonthCase(start: "2025-11-30", months: 3, expected: "2026-02-28"),  // across a year end
            MonthCase(start: "2025-12-01", months: 1, expected: "2026-01-01"),
            MonthCase(start: "2025-03-31", months: -1, expected: "2025-02-28"),
            MonthCase(start: "2025-01-15", months: 60, expected: "2030-01-15"),
        ])
    func addingMonths(_ example: MonthCase) {
        #expect(date(example.start).adding(months: example.months) == date(example.expected))
    }

    @Test("Strict YYYY-MM-DD parsing refuses impossible dates")
    func parsing() {
        #expect(CalendarDate(iso: "2024-02-29") != nil)
        for text in [
            "2025-02-29", "2025-13-01", "2025-00-10", "2025-04-31", "25-01-01", "2025-1-01", "2025/01/01",
            "2025-01-01T00:00:00Z", "",
        ] {
            #expect(CalendarDate(iso: text) == nil, "\(text)")
        }
        #expect(date("2025-01-05").description == "2025-01-05")
    }

    @Test("Dates read back their parts, print zero-padded and order by year, month, day")
    func partsAndOrder() throws {
        for (year, month, day, text) in [
            (1, 1, 1, "0001-01-01"), (99, 3, 7, "0099-03-07"), (2025, 12, 31, "2025-12-31"),
            (9999, 12, 31, "9999-12-31"),
        ] {
            let value = try #require(CalendarDate(year: year, month: month, day: day))
            #expect([value.year, value.month, value.day] == [year, month, day] as [Int])
            #expect(value.description == text)
            #expect(CalendarDate(iso: text) == value)
        }
        let ordered = ["2024-12-31", "2025-01-01", "2025-01-31", "2025-02-01", "2025-02-28", "2025-10-01"].map(date)
        #expect(ordered.shuffled().sorted() == ordered)
        #expect(date("2025-01-31") < date("2025-02-01") && !(date("2025-02-01") < date("2025-02-01")))
    }

    @Test("Arithmetic past 9999 gives a date that prints its longer year, and says it has no YYYY-MM-DD")
    func pastTheTextYears() {
        let next = date("9999-12-15").adding(months: 1)
        #expect(next.year == 10000 && next.description == "10000-01-15" && !next.isWithinTextYears)
        #expect(date("9999-12-31").isWithinTextYears && date("0001-01-01").isWithinTextYears)
        #expect(date("0001-01-01").adding(days: -1).description == "0000-12-31")
        let period = BillingPeriod(start: date("9999-12-20"), end: next)
        #expect(period.monthlyPieces.count == 2)
    }

    @Test("Days in month, leap years included")
    func daysInMonth() {
        #expect(date("2024-02-10").daysInMonth == 29)
        #expect(date("2025-02-10").daysInMonth == 28)
        #expect(date("1900-02-01").daysInMonth == 28)
        #expect(date("2000-02-01").daysInMonth == 29)
        #expect(date("2025-04-01").daysInMonth == 30)
        #expect(date("2025-12-31").daysInMonth == 31)
    }

    @Test("Day counts round-trip through the epoch")
    func epochDays() {
        #expect(date("1970-01-01").daysSinceEpoch == 0)
        #expect(date("2025-01-15").days(until: date("2025-02-01")) == 17)
        var cursor = date("2023-12-25")
        for _ in 0..<800 {
            let next = cursor.adding(days: 1)
            #expect(CalendarDate(daysSinceEpoch: cursor.daysSinceEpoch) == cursor)
            #expect(next > cursor)
            cursor = next
        }
    }

    @Test("A period splits into calendar-month pieces, end exclusive")
    func monthlyPieces() {
        let pieces = period("2025-01-15", "2025-03-10").monthlyPieces
        #expect(
            pieces == [
                period("2025-01-15", "2025-02-01"), period("2025-02-01", "2025-03-01"),
                period("2025-03-01", "2025-03-10"),
            ])
        #expect(pieces.map(\.days) == [17, 28, 9])
        #expect(period("2025-01-15", "2025-01-15").monthlyPieces.isEmpty)
        #expect(period("2025-01-01", "2025-02-01").intersection(period("2025-02-01", "2025-03-01")) == nil)
    }

    @Test("An instant's local date depends on the tenant's time zone")
    func timeZones() throws {
        let kolkata = try #require(TenantTimeZone(identifier: "Asia/Kolkata"))
        let losAngeles = try #require(TenantTimeZone(identifier: "America/Los_Angeles"))
        // 2025-01-31T20:00:00Z is 01:30 on 1 Feb in Kolkata (+05:30), 12:00 on 31 Jan in LA.
        let instant = Date(timeIntervalSince1970: TimeInterval(date("2025-01-31").daysSinceEpoch * 86_400 + 20 * 3600))
        #expect(TenantTimeZone.utc.date(of: instant) == date("2025-01-31"))
        #expect(kolkata.date(of: instant) == date("2025-02-01"))
        #expect(losAngeles.date(of: instant) == date("2025-01-31"))
        // Local midnight of 1 March 2025: 18:30Z the day before in Kolkata, 08:00Z in LA (PST).
        let march = date("2025-03-01").daysSinceEpoch * 86_400
        #expect(kolkata.startOfDay(date("2025-03-01")).timeIntervalSince1970 == TimeInterval(march - 19_800))
        #expect(losAngeles.startOfDay(date("2025-03-01")).timeIntervalSince1970 == TimeInterval(march + 28_800))
        #expect(TenantTimeZone(identifier: "Mars/Olympus") == nil)
    }
}
