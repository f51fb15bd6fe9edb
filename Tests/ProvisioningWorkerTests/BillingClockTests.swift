import BillingDomain
import CovenantMessages
import Foundation
import ProvisioningWorker
import Testing
import WorkerRuntime
import WorkerStores

/// The tenants of the clock tests and their zones.
let clockZones = ["utc": "UTC", "kolkata": "Asia/Kolkata", "la": "America/Los_Angeles"]

@Suite("The clock of the 1st, driven by a test clock")
struct BillingClockTests {
    func setUp() async throws -> (Provisioning, BillingClockTicker) {
        let provisioning = try await Provisioning()
        for (tenant, zone) in clockZones {
            _ = try await provisioning.send(
                "tenant.upsert",
                #"{"name":"\#(tenant)","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true,"time_zone":"\#(zone)"}"#,
                tenant: tenant)
        }
        return (
            provisioning, BillingClockTicker(store: provisioning.store, events: EventFactory(source: "covenant/clock"))
        )
    }

    static func instant(_ text: String) -> Date { RFC3339.instant(text)! }

    /// The `billing.run` commands the clock put in the outbox: tenant and `as_of`, in order.
    func startedRuns(_ store: SQLiteWorkerStore) async throws -> [(tenant: String, asOf: String, id: String)] {
        try await store.claimOutbox(limit: 100_000, claimant: "test", lease: .seconds(60)).compactMap { record in
            guard record.message.exchange == Topology.internalExchange,
                let event = try? CloudEvent.decode(record.message.body).get(),
                record.message.routingKey == "\(event.tenantId).billing.run", event.id.hasPrefix("covenant:clock:"),
                case .string(let asOf) = event.data["as_of"]
            else { return nil }
            return (event.tenantId, asOf, event.id)
        }
    }

    @Test("A year of runs: each tenant's run starts at 00:00 on the 1st in its own zone, not a second before")
    func aYearOfRuns() async throws {
        let (provisioning, ticker) = try await setUp()
        // The clocks start when the tenants are first seen.
        #expect(try await ticker.tick(at: Self.instant("2025-01-10T00:00:00Z")).runs.isEmpty)
        var months: [CalendarDate] = []
        var month = CalendarDate(year: 2025, month: 2, day: 1)!
        for _ in 0..<12 {
            months.append(month)
            month = month.startOfNextMonth
        }
        var instants: [(Date, tenant: String, date: CalendarDate, due: Bool)] = []
        for (tenant, zone) in clockZones {
            let timeZone = try #require(TenantTimeZone(identifier: zone))
            for date in months {
                let midnight = timeZone.startOfDay(date)
                instants.append((midnight - 1, tenant, date, false))
                instants.append((midnight, tenant, date, true))
            }
        }
        for (instant, tenant, date, due) in instants.sorted(by: { $0.0 < $1.0 }) {
            let tick = try await ticker.tick(at: instant)
            if due {
                #expect(tick.runs[tenant] == [date], "\(tenant) at \(instant)")
            } else {
                #expect(tick.runs[tenant] == nil, "\(tenant) one second before \(date)")
            }
        }
        let runs = try await startedRuns(provisioning.store)
        for tenant in clockZones.keys {
            #expect(runs.filter { $0.tenant == tenant }.map(\.asOf) == months.map(\.description))
        }
        // Kolkata's 1st begins 5½ hours before UTC's, Los Angeles' 8 hours after.
        let utc = try #require(TenantTimeZone(identifier: "UTC")).startOfDay(months[0])
        #expect(try #require(TenantTimeZone(identifier: "Asia/Kolkata")).startOfDay(months[0]) == utc - 19_800)
        #expect(try #require(TenantTimeZone(identifier: "America/Los_Angeles")).startOfDay(months[0]) == utc + 28_800)
    }

    @Test("Two replicas ticking together start each run once")
    func twoReplicas() async throws {
        let (provisioning, first) = try await setUp()
        let second = BillingClockTicker(store: provisioning.store, events: EventFactory(source: "covenant/clock"))
        try await first.tick(at: Self.instant("2025-01-10T00:00:00Z"))
        var month = CalendarDate(year: 2025, month: 2, day: 1)!
        for _ in 0..<12 {
            // Noon UTC on the 1st: past midnight in all three zones.
            let now = Self.instant("\(month)T12:00:00Z")
            month = month.startOfNextMonth
            async let a = first.tick(at: now)
            async let b = second.tick(at: now)
            _ = try await (a, b)
        }
        let runs = try await startedRuns(provisioning.store)
        #expect(Set(runs.map(\.id)).count == runs.count, "a run was started twice")
        for tenant in clockZones.keys {
            #expect(runs.filter { $0.tenant == tenant }.count == 12)
        }
    }

    @Test("A clock stopped for three months catches up with three runs, oldest first; a new tenant has no burst")
    func catchUp() async throws {
        let (provisioning, ticker) = try await setUp()
        try await ticker.tick(at: Self.instant("2025-01-10T00:00:00Z"))
        #expect(
            try await ticker.tick(at: Self.instant("2025-02-01T12:00:00Z")).runs["utc"] == [
                CalendarDate(iso: "2025-02-01")!
            ])
        let late = try await ticker.tick(at: Self.instant("2025-05-01T12:00:00Z"))
        #expect(late.runs["utc"]?.map(\.description) == ["2025-03-01", "2025-04-01", "2025-05-01"])
        // A tenant created now starts with the next 1st, whatever its contracts' dates.
        _ = try await provisioning.send(
            "tenant.upsert",
            #"{"name":"new","platform_license":{"kind":"virtual","status":"active"},"service_contracts_enabled":true}"#,
            tenant: "new")
        #expect(try await ticker.tick(at: Self.instant("2025-05-20T00:00:00Z")).runs["new"] == nil)
        #expect(
            try await ticker.tick(at: Self.instant("2025-06-01T00:00:00Z")).runs["new"]?.map(\.description) == [
                "2025-06-01"
            ])
    }

    @Test("contract.expiring 30 days before the end, once, saying what happens: expire, auto_renew, renew_to")
    func expiryReminders() async throws {
        let (provisioning, ticker) = try await setUp()
        _ = try await provisioning.send("plan.upsert", Provisioning.plan, tenant: "utc")
        for (service, renewal) in [
            ("vm-1", #"{"policy":"expire"}"#), ("vm-2", #"{"policy":"auto_renew"}"#),
            ("vm-3", #"{"policy":"renew_to","contract":{"term_months":24}}"#),
        ] {
            _ = try await provisioning.send(
                "service.provision",
                Provisioning.provision(service, contract: #"{"term_months":12,"renewal":\#(renewal)}"#), tenant: "utc")
        }
        // Terms end 2026-01-15: the notice is due on 2025-12-16.
        #expect(try await ticker.tick(at: Self.instant("2025-12-15T23:59:59Z")).reminders.isEmpty)
        let due = try await ticker.tick(at: Self.instant("2025-12-16T00:00:00Z"))
        #expect(due.reminders.sorted() == ["vm-1-1", "vm-2-1", "vm-3-1"])
        // The services are looked through once a day: a contract signed after the day's look,
        // whose notice day has already come (it ends 2026-01-01), is reminded by the next day's.
        let signed = try await provisioning.send(
            "service.provision",
            Provisioning.provision("vm-4", contract: #"{"term_months":6}"#)
                .replacingOccurrences(of: "2025-01-15", with: "2025-07-01"), tenant: "utc")
        #expect(throws: Never.self) { try signed.get() }
        #expect(try await ticker.tick(at: Self.instant("2025-12-16T12:00:00Z")).reminders.isEmpty)
        #expect(try await ticker.tick(at: Self.instant("2025-12-17T00:00:00Z")).reminders == ["vm-4-1"])
        #expect(try await ticker.tick(at: Self.instant("2025-12-20T00:00:00Z")).reminders.isEmpty)
        let events = try await provisioning.store.claimOutbox(limit: 1000, claimant: "test", lease: .seconds(60))
            .filter { $0.message.routingKey == "utc.contract.expiring" }
            .compactMap { try? CloudEvent.decode($0.message.body).get() }
        #expect(
            events.filter { $0.data["contract_id"] == .string("vm-4-1") }.map { $0.data["end_date"] } == [
                .string("2026-01-01")
            ])
        #expect(
            Set(
                events.filter { $0.data["contract_id"] != .string("vm-4-1") }.map {
                    "\($0.data["contract_id"]!) \($0.data["renewal"]!) \($0.data["end_date"]!)"
                })
                == [
                    #"string("vm-1-1") string("expire") string("2026-01-15")"#,
                    #"string("vm-2-1") string("auto_renew") string("2026-01-15")"#,
                    #"string("vm-3-1") string("renew_to") string("2026-01-15")"#,
                ])
    }
}
