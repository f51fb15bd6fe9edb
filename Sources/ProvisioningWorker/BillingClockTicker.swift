public import BillingDomain
import CovenantMessages
public import Foundation
public import WorkerRuntime
public import WorkerStores

/// The clock of the 1st, inside provisioning (which owns tenants and contracts): at each tick it
/// starts every tenant's billing runs that are due (00:00 on the 1st in the tenant's time zone,
/// catching up oldest first after downtime) and publishes `contract.expiring` for contracts
/// whose notice day has come.
///
/// A started run is a `billing.run` command in provisioning's outbox with the id
/// `clock:<tenant>:<date>`, committed with the tenant's clock document (version-checked): two
/// replicas ticking at once start each run once, and even a duplicate would be dropped by the
/// inbox, since the id is the same. A reminder is committed with a marker document per contract
/// (created once), so it is sent once whatever the number of replicas.
public struct BillingClockTicker: Sendable {
    let store: any ProvisioningStore
    let events: EventFactory

    public init(store: any ProvisioningStore, events: EventFactory) {
        self.store = store
        self.events = events
    }

    /// What one tick did.
    public struct Tick: Sendable, Hashable {
        /// `(tenant, as_of)` of each run started, in order.
        public var runs: [String: [CalendarDate]] = [:]
        /// Contract ids reminded.
        public var reminders: [String] = []
        /// The earliest next run of any tenant.
        public var nextStart: Date?
    }

    /// Starts what is due at `now`.
    @discardableResult
    public func tick(at now: Date) async throws -> Tick {
        var tick = Tick()
        for stored in try await store.documents(kind: "tenant", keyPrefix: "") {
            guard let data = JSONValue.parse(stored.body),
                case .success(let upsert) = Command.tenant(from: data, tenantId: stored.key)
            else { continue }
            let tenant = upsert.tenant
            let runs = try await startRuns(of: tenant, at: now)
            if !runs.started.isEmpty { tick.runs[tenant.id] = runs.started }
            tick.nextStart = min(tick.nextStart ?? runs.next, runs.next)
            tick.reminders += try await remind(tenant, on: tenant.timeZone.date(of: now), at: now)
        }
        return tick
    }

    private func startRuns(of tenant: Tenant, at now: Date) async throws -> (started: [CalendarDate], next: Date) {
        let key = tenant.id
        let stored = try await store.document(kind: "clock", key: key)
        var clock: BillingClock
        if let stored, let json = JSONValue.parse(stored.body), let fields = try? Fields(json, path: "clock") {
            clock = BillingClock(
                origin: try fields.date("origin"),
                lastStarted: fields.has("last_started") ? try fields.date("last_started") : nil)
        } else {
            // A new tenant's clock starts now: its first run is the next 1st.
            clock = BillingClock(origin: tenant.timeZone.date(of: now))
        }
        let due = clock.startDueRuns(at: now, in: tenant.timeZone)
        guard stored == nil || !due.isEmpty else { return ([], clock.nextStart(in: tenant.timeZone)) }
        var fields: JSONObject = ["origin": .string(clock.origin.description)]
        if let last = clock.lastStarted { fields["last_started"] = .string(last.description) }
        let unit = UnitOfWork(
            messageId: nil,
            documents: [
                DocumentWrite(kind: "clock", key: key, json: .object(fields), expectedVersion: stored?.version ?? 0)
            ],
            outbox: due.map { date in
                // Covenant's own id, on the internal exchange: no tenant can send it, or spend it.
                let id = "\(CloudEvent.reservedIdPrefix)clock:\(tenant.id):\(date)"
                let command = CloudEvent(
                    id: id, source: events.source, type: Command.billingRunType, time: RFC3339.text(now),
                    tenantId: tenant.id, data: Command.billingRunData(asOf: date))
                let route = Topology.route(event: Command.billingRunType, tenantId: tenant.id)
                return OutboxMessage(
                    exchange: route.exchange, routingKey: route.routingKey, messageId: id,
                    type: Command.billingRunType, contentType: CloudEvent.contentType, body: command.encoded())
            })
        switch try await store.commit(unit) {
        case .committed, .alreadyHandled: return (due, clock.nextStart(in: tenant.timeZone))
        case .versionConflict: return ([], clock.nextStart(in: tenant.timeZone))  // another replica started them
        }
    }

    /// `contract.expiring` for each running contract of the tenant whose notice day is `today`
    /// or past (and before its end), once per contract. The tenant's services are looked through
    /// once a day (the day is remembered in a `reminder_scan` document), a page at a time: a
    /// tenant of 100,000 customers has 200,000 services, which every 30-second tick had read
    /// into memory at once. A contract signed during the day whose notice day has already come
    /// is reminded by the next day's look.
    private func remind(_ tenant: Tenant, on today: CalendarDate, at now: Date) async throws -> [String] {
        let scanned = try await store.document(kind: "reminder_scan", key: tenant.id)
        if let scanned, let json = JSONValue.parse(scanned.body), case .string(let text)? = json["date"],
            let date = CalendarDate(iso: text), today <= date
        {
            return []
        }
        var due: [Contract] = []
        try await store.forEachPage(kind: "service", keyPrefix: "\(tenant.id)/") { page in
            for stored in page {
                guard let json = JSONValue.parse(stored.body), let record = try? ServiceRecord(json: json),
                    record.endDate == nil, let contract = record.currentContract,
                    contract.isExpiryNoticeDue(on: today, noticeDays: tenant.expiryNoticeDays)
                else { continue }
                due.append(contract)
            }
        }
        var reminded: [String] = []
        for contract in due {
            let marker = "\(tenant.id)/\(contract.id)"
            guard try await store.document(kind: "expiry_notice", key: marker) == nil else { continue }
            let unit = UnitOfWork(
                messageId: nil,
                documents: [
                    DocumentWrite(
                        kind: "expiry_notice", key: marker, json: .object(["date": .string(today.description)]),
                        expectedVersion: 0)
                ],
                outbox: [
                    events.event(
                        "contract.expiring", tenantId: tenant.id, causationId: "clock:\(contract.id)",
                        data: EventPayloads.contractExpiring(contract).adding([
                            "customer_id": .string(contract.customerId), "service_id": .string(contract.serviceId),
                        ]), time: RFC3339.text(now))
                ])
            if case .committed = try await store.commit(unit) { reminded.append(contract.id) }
        }
        // Another replica recording the same day first is no matter: it looked too.
        _ = try await store.commit(
            UnitOfWork(
                messageId: nil,
                documents: [
                    DocumentWrite(
                        kind: "reminder_scan", key: tenant.id, json: .object(["date": .string(today.description)]),
                        expectedVersion: scanned?.version ?? 0)
                ]))
        return reminded
    }
}
