import BillingDomain
import Foundation
import Testing

@Suite("The billing clock and expiry reminders")
struct BillingClockTests {
    /// The instant of `hour`:`minute` UTC on `day`.
    func utc(_ day: String, _ hour: Int = 0, _ minute: Int = 0) -> Date {
        Date(timeIntervalSince1970: TimeInterval(date(day).daysSinceEpoch * 86_400 + hour * 3600 + minute * 60))
    }

    struct ZoneCase: Sendable, CustomTestStringConvertible {
        let zone: String
        /// Local midnight of 1 February 2025 as UTC hour and minute on the day it falls (minutes
        /// after midnight UTC, negative for the day before).
        let midnightOffsetMinutes: Int
        var testDescription: String { zone }
    }

    @Test(
        "A year of runs, each starting at local midnight on the 1st",
        arguments: [
            ZoneCase(zone: "UTC", midnightOffsetMinutes: 0),
            ZoneCase(zone: "Asia/Kolkata", midnightOffsetMinutes: -330),  // 18:30Z the day before
            ZoneCase(zone: "America/Los_Angeles", midnightOffsetMinutes: 480),  // 08:00Z (PST)
        ])
    func yearOfRuns(_ example: ZoneCase) throws {
        let zone = try #require(TenantTimeZone(identifier: example.zone))
        var clock = BillingClock(origin: date("2025-01-10"))
        let midnight = utc("2025-02-01").addingTimeInterval(TimeInterval(example.midnightOffsetMinutes * 60))
        // One minute before local midnight: nothing. At midnight: the run of 1 February.
        #expect(clock.startDueRuns(at: midnight.addingTimeInterval(-60), in: zone).isEmpty)
        #expect(clock.startDueRuns(at: midnight, in: zone) == [date("2025-02-01")])
        #expect(clock.startDueRuns(at: midnight, in: zone).isEmpty)  // once per date
        // Then each month, ticking a minute after each local midnight.
        var started: [CalendarDate] = []
        for month in 1...11 {
            let first = date("2025-02-01").adding(months: month)
            started += clock.startDueRuns(at: zone.startOfDay(first).addingTimeInterval(60), in: zone)
        }
        #expect(started == (1...11).map { date("2025-02-01").adding(months: $0) })
        // Los Angeles switches to daylight time in March: its 1 April starts at 07:00Z.
        if example.zone == "America/Los_Angeles" {
            #expect(zone.startOfDay(date("2025-04-01")) == utc("2025-04-01", 7))
        }
    }

    @Test("A clock stopped for three months catches up with three runs, oldest first")
    func catchUp() {
        var clock = BillingClock(origin: date("2025-01-10"), lastStarted: date("2025-03-01"))
        let runs = clock.startDueRuns(at: utc("2025-06-20", 12), in: .utc)
        #expect(runs == [date("2025-04-01"), date("2025-05-01"), date("2025-06-01")])
        #expect(clock.lastStarted == date("2025-06-01") && clock.nextRun == date("2025-07-01"))
    }

    @Test("A new tenant's clock starts at its creation: no burst of past-dated runs")
    func newTenant() {
        var clock = BillingClock(origin: date("2025-06-20"))
        #expect(clock.startDueRuns(at: utc("2025-06-20", 12), in: .utc).isEmpty)
        #expect(clock.startDueRuns(at: utc("2025-07-01", 0, 1), in: .utc) == [date("2025-07-01")])
    }

    @Test("Two replicas given the same clock start each run once between them")
    func replicas() {
        // Both read the same stored clock; the first to commit its advance wins (a version
        // check in the store); the other, reading again, finds nothing due.
        let stored = BillingClock(origin: date("2025-01-10"))
        var first = stored
        var second = stored
        let now = utc("2025-02-01", 0, 5)
        #expect(first.startDueRuns(at: now, in: .utc) == [date("2025-02-01")])
        second = first  // the loser re-reads after its conflict
        #expect(second.startDueRuns(at: now, in: .utc).isEmpty)
    }

    @Test("contract.expiring is due 30 days before the end, for every renewal policy, and not once ended")
    func expiryNotices() throws {
        for policy in [RenewalPolicy.expire, .autoRenew, .renewTo(ContractTerms(termMonths: 12))] {
            let contract = workedExampleContract(terms: ContractTerms(termMonths: 12, renewal: policy))
            // Ends 2026-01-15: the notice is due from 2025-12-16.
            #expect(contract.expiryNoticeDate(noticeDays: 30) == date("2025-12-16"))
            #expect(!contract.isExpiryNoticeDue(on: date("2025-12-15"), noticeDays: 30))
            #expect(contract.isExpiryNoticeDue(on: date("2025-12-16"), noticeDays: 30))
            #expect(!contract.isExpiryNoticeDue(on: date("2026-01-15"), noticeDays: 30))
        }
        let cancelled = try workedExampleContract().cancelled(effective: date("2025-09-01"), tenant: tenant()).get()
            .contract
        #expect(!cancelled.isExpiryNoticeDue(on: date("2025-12-20"), noticeDays: 30))
    }
}
