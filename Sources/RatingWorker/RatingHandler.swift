public import BillingDomain
public import CovenantMessages
import Foundation
public import WorkerRuntime
public import WorkerStores

/// Rating: accepts usage, assigns it to its billing month in the tenant's time zone, keeps the
/// exact total per service, metric and month, and publishes `usage.rated`. It learns tenants'
/// zones and services from provisioning's events, and which months are invoiced from
/// `billing.run.completed`.
public struct RatingHandler: MessageHandler {
    let store: any RatingStore & DocumentStore
    let events: EventFactory
    let now: @Sendable () -> String
    /// The usage dates accepted around today.
    let dateWindow: DateWindow

    public init(
        store: any RatingStore & DocumentStore, events: EventFactory, dateWindow: DateWindow = .standard,
        now: @escaping @Sendable () -> String
    ) {
        self.store = store
        self.events = events
        self.dateWindow = dateWindow
        self.now = now
    }

    public static let commands = ["usage.record"]
    public static let subscribedEvents = [
        "tenant.updated", ServiceEvent.activated, ServiceEvent.cancelled, ServiceEvent.planChanged,
        ServiceEvent.contractPlanChanged, "billing.run.completed",
    ]

    /// Usage is rated in batches: within a run of `usage.record` messages nothing but usage
    /// totals change, and the batch keeps those as running totals. A batch's usage goes out as
    /// one `usage.rated` per tenant and ``recordsPerEvent`` records (the interface lets one
    /// event carry many), on the batch's last rated unit, which then speaks for the batch: it
    /// commits with all of it or not at all.
    public var batchableTypes: Set<String> { ["usage.record"] }

    /// Usage batches write no documents, and each total they add to is read again and held
    /// to its limit in the commit (``UsageIncrement/maximumTotal``): the next batch may be
    /// decided while one commits.
    public var decidesAheadOfCommit: Bool { true }

    /// The most usage messages a batch takes (other roles: 250).
    public static let batchSize = 1000
    /// The most records one `usage.rated` carries: the batch of invoicing and commitments, which
    /// count an event's records against it, so one event never makes them a batch larger than
    /// their own.
    static let recordsPerEvent = 250

    public func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        let time = now()
        guard let instant = RFC3339.instant(time) else {
            throw StoreError(.inconsistent, "the clock's time \(time) is unreadable")
        }
        let reads = BatchReads(store: store, now: instant)
        // Each command decoded once, for the prefetch and for its rating.
        let commands = events.map { Command.decode($0) }
        try await reads.prefetch(
            zip(events, commands).compactMap { event, command in
                guard case .success(.usageRecord(let usage)) = command else { return nil }
                return (event.tenantId, usage)
            })
        var outcomes: [HandlerOutcome] = []
        var rated: [(outcome: Int, record: RatedRecord)] = []
        for (event, command) in zip(events, commands) {
            guard event.type == "usage.record", case .success(.usageRecord(let usage)) = command else {
                outcomes.append(try await handle(event, decoded: command))
                continue
            }
            switch try await rate(usage, event, reads) {
            case .rated(let unit, let record):
                rated.append((outcomes.count, record))
                outcomes.append(.commit(unit))
            case .decided(let outcome):
                outcomes.append(outcome)
            }
        }
        guard let last = rated.last, case .commit(var unit) = outcomes[last.outcome] else { return outcomes }
        unit.outbox = ratedEvents(rated.map(\.record))
        unit.speaksForBatch = rated.count > 1
        outcomes[last.outcome] = .commit(unit)
        return outcomes
    }

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        // Usage alone is a batch of one: rated, and its event made, one way.
        if event.type == "usage.record" { return try await handle(batch: [event])[0] }
        return try await handle(event, decoded: Command.decode(event))
    }

    /// Everything but usage that decodes, which ``handle(batch:)`` rates.
    private func handle(
        _ event: CloudEvent, decoded command: @autoclosure () -> Result<Command, Rejection>
    ) async throws -> HandlerOutcome {
        do {
            switch event.type {
            case "usage.record":
                if case .failure(let rejection) = command() { return .reject(rejection) }
                return .reject(Rejection(.unknownType, "rating takes usage.record only"))
            case "tenant.updated":
                let zone = try Fields(event.data, path: "data").optionalString("time_zone") ?? "UTC"
                return try await put("tenant", event.tenantId, .object(["time_zone": .string(zone)]))
            case ServiceEvent.activated, ServiceEvent.cancelled, ServiceEvent.planChanged,
                ServiceEvent.contractPlanChanged:
                return try await apply(try ServiceEvent(decoding: event), tenantId: event.tenantId)
            case "billing.run.completed":
                let asOf = try Fields(event.data, path: "data").date("as_of")
                let known = try await document("closed", event.tenantId)?.0.storedDate("through")
                let through = CalendarDate.max(known ?? asOf.startOfMonth, asOf.startOfMonth)
                return try await put("closed", event.tenantId, .object(["through": .string(through.description)]))
            default:
                return .reject(Rejection(.unknownType, "rating does not handle \(event.type)"))
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    /// A usage record rated: its unit (the usage added, no events yet) and its record for
    /// `usage.rated`.
    struct RatedRecord {
        let tenantId: String
        let commandId: String
        let record: UsageRated.Record
    }

    private enum Rating {
        case rated(UnitOfWork, RatedRecord)
        /// Not rated: rejected, or waiting for its tenant or service.
        case decided(HandlerOutcome)
    }

    /// One `usage.rated` per tenant and ``recordsPerEvent`` records, in the order the tenants
    /// first appear, carrying the tenant's records in order; its `causationid` is its first
    /// record's command.
    private func ratedEvents(_ records: [RatedRecord]) -> [OutboxMessage] {
        var tenants: [String] = []
        var byTenant: [String: [RatedRecord]] = [:]
        for record in records {
            if byTenant[record.tenantId] == nil { tenants.append(record.tenantId) }
            byTenant[record.tenantId, default: []].append(record)
        }
        let time = now()
        return tenants.flatMap { tenant in
            let group = byTenant[tenant] ?? []
            return stride(from: 0, to: group.count, by: Self.recordsPerEvent).map { start in
                let part = group[start..<min(start + Self.recordsPerEvent, group.count)]
                return events.event(
                    UsageRated.type, tenantId: tenant, causationId: part[start].commandId,
                    data: UsageRated(records: part.map(\.record)).data, time: time)
            }
        }
    }

    private func document(_ kind: String, _ key: String) async throws -> (JSONValue, Int64)? {
        try await store.jsonDocument(kind: kind, key: key)
    }

    private func put(_ kind: String, _ key: String, _ body: JSONValue) async throws -> HandlerOutcome {
        .commit(try await store.replacing(kind: kind, key: key, with: body))
    }

    /// A service as rating keeps it: what its activation says, then its later states (its end,
    /// a PAYG cancellation; its new plan).
    private func apply(_ event: ServiceEvent, tenantId: String) async throws -> HandlerOutcome {
        let key = "\(tenantId)/\(event.serviceId)"
        let changes: JSONObject
        switch event.change {
        case .activated(let activation):
            return try await put(
                "service", key,
                .object([
                    "customer_id": .string(event.customerId),
                    "billing_model": .string(activation.billingModel.rawValue),
                    "plan_id": .string(activation.planId), "start_date": .string(activation.startDate.description),
                ]))
        case .cancelled(let effective): changes = ["end_date": .string(effective.description)]
        case .planChanged(let planId, _): changes = ["plan_id": .string(planId)]
        case .contractPlanChanged(let change): changes = ["plan_id": .string(change.newContract.planId)]
        case .contractActivated, .contractCancelled, .contractRenewed, .contractExpired:
            return .reject(Rejection(.unknownType, "rating does not handle \(event.type)"))
        }
        guard let (current, version) = try await document("service", key) else {
            // Not yet seen service.activated: wait in the retry queue until it has arrived, while
            // the messages behind go on (failing here had retried it in place, holding the queue).
            return .retryLater("service \(event.serviceId) is not known yet")
        }
        return .commit(
            UnitOfWork(
                messageId: nil,
                documents: [
                    DocumentWrite(kind: "service", key: key, json: current.adding(changes), expectedVersion: version)
                ]))
    }

    private func rate(_ usage: UsageRecord, _ command: CloudEvent, _ reads: BatchReads) async throws -> Rating {
        do {
            return try await rateOrThrow(usage, command, reads)
        } catch let rejection as Rejection {
            return .decided(.reject(rejection))
        }
    }

    private func rateOrThrow(
        _ usage: UsageRecord, _ command: CloudEvent, _ reads: BatchReads
    ) async throws
        -> Rating
    {
        // A tenant or service not known yet may be on its way from provisioning (upstream sent
        // the usage right after the activation, or another replica holds the activation): the
        // usage waits a few times before it is rejected.
        guard let tenant = try await reads.document("tenant", command.tenantId) else {
            return .decided(
                .rejectUnlessItArrives(Rejection(.unknownTenant, "tenant \(command.tenantId) does not exist")))
        }
        guard let service = try await reads.document("service", "\(command.tenantId)/\(usage.serviceId)") else {
            return .decided(
                .rejectUnlessItArrives(Rejection(.unknownService, "service \(usage.serviceId) does not exist")))
        }
        guard service["customer_id"] == .string(usage.customerId) else {
            throw Rejection(
                .unknownService, "service \(usage.serviceId) is not a service of customer \(usage.customerId)")
        }
        guard let zone = reads.zone(of: command.tenantId, tenant) else {
            throw StoreError.corrupt("tenant", command.tenantId, "no readable time zone")
        }
        let day = usage.date(in: zone)
        guard day.isWithinTextYears else {
            throw Rejection(
                .invalidMessage,
                "data.timestamp \(usage.timestamp) falls on \(day) in \(zone.identifier), outside years 1–9999")
        }
        if let rejection = dateWindow.problem(day, field: "data.timestamp", today: reads.today(command.tenantId, zone))
        {
            throw rejection
        }
        let life = ServiceLife(
            serviceId: usage.serviceId, start: service.storedDate("start_date"), end: service.storedDate("end_date"))
        if let rejection = life.problem(usageOn: day) { throw rejection }
        let month = day.startOfMonth
        // The limit is checked again in the commit, on the total as it is then (another
        // replica, or this worker's batch before, may have added to it since it was read).
        let increment = UsageIncrement(
            tenantId: command.tenantId, serviceId: usage.serviceId, metric: usage.metric, month: month,
            quantity: usage.quantity, maximumTotal: UsageMonth.maximumTotal)
        let total = try await reads.total(increment)
        if let rejection = UsageMonth.checkQuantity(usage.quantity, total: total + usage.quantity) {
            throw rejection
        }
        let closed = try await reads.document("closed", command.tenantId)?.storedDate("through")
        let late = closed.map { month.startOfNextMonth <= $0 } ?? false
        let planId: String? = if case .string(let id)? = service["plan_id"] { id } else { nil }
        let model: String? = if case .string(let model)? = service["billing_model"] { model } else { nil }
        let record = UsageRated.Record(
            usageId: command.id, customerId: usage.customerId, serviceId: usage.serviceId, planId: planId,
            billingModel: model.flatMap(BillingModel.init), metric: usage.metric, quantity: usage.quantity, date: day,
            late: late)
        reads.add(increment)
        return .rated(
            UnitOfWork(messageId: command.id, usage: [increment]),
            RatedRecord(tenantId: command.tenantId, commandId: command.id, record: record))
    }
}

extension JSONValue {
    /// A date rating stored in one of its documents under `key` (`YYYY-MM-DD`); nil when absent.
    fileprivate func storedDate(_ key: String) -> CalendarDate? {
        if case .string(let text)? = self[key] { CalendarDate(iso: text) } else { nil }
    }
}

/// What a batch of usage reads, read once per batch: tenants, services and closed months
/// (which usage messages never change), and each month's total, kept running as the batch's
/// usage is added to it.
final class BatchReads {
    private let store: any RatingStore & DocumentStore
    private var documents: [String: JSONValue?] = [:]
    private var totals: [UsageMonthKey: Rational] = [:]
    private var zones: [String: TenantTimeZone] = [:]
    private var todays: [String: CalendarDate] = [:]
    /// The batch's time: one reading of the clock for all its records.
    private let now: Date

    init(store: any RatingStore & DocumentStore, now: Date) {
        self.store = store
        self.now = now
    }

    /// Today in the tenant's zone, at the batch's time.
    func today(_ tenantId: String, _ zone: TenantTimeZone) -> CalendarDate {
        if let today = todays[tenantId] { return today }
        let today = zone.date(of: now)
        todays[tenantId] = today
        return today
    }

    /// The tenant's time zone, from its document: made once per tenant and batch.
    func zone(of tenantId: String, _ tenant: JSONValue) -> TenantTimeZone? {
        if let zone = zones[tenantId] { return zone }
        guard case .string(let name) = tenant["time_zone"], let zone = TenantTimeZone(identifier: name) else {
            return nil
        }
        zones[tenantId] = zone
        return zone
    }

    /// Reads what the usage of a batch needs in four queries: its tenants, their closed months,
    /// its services, then its months' totals.
    func prefetch(_ usage: [(tenantId: String, record: UsageRecord)]) async throws {
        guard !usage.isEmpty else { return }
        let tenants = Array(Set(usage.map { $0.tenantId }))
        try await load("tenant", tenants)
        try await load("closed", tenants)
        try await load("service", usage.map { "\($0.tenantId)/\($0.record.serviceId)" })
        let keys = usage.compactMap { tenantId, record -> UsageMonthKey? in
            guard case .some(.some(let tenant)) = documents["tenant|\(tenantId)"], let zone = zone(of: tenantId, tenant)
            else { return nil }
            return UsageMonthKey(
                tenantId: tenantId, serviceId: record.serviceId, metric: record.metric, month: record.date(in: zone))
        }
        let stored = try await store.usageTotals(of: keys)
        for key in keys where totals[key] == nil { totals[key] = stored[key] ?? .zero }
    }

    private func load(_ kind: String, _ keys: [String]) async throws {
        let missing = Array(Set(keys.filter { documents["\(kind)|\($0)"] == nil }))
        let found = try await store.documents(kind: kind, keys: missing)
        for key in missing {
            documents["\(kind)|\(key)"] = try found[key].map { stored in
                guard let json = JSONValue.parse(stored.body) else { throw StoreError.corrupt(kind, key) }
                return json
            }
        }
    }

    func document(_ kind: String, _ key: String) async throws -> JSONValue? {
        if let known = documents["\(kind)|\(key)"] { return known }
        let json = try await store.jsonDocument(kind: kind, key: key)?.0
        documents["\(kind)|\(key)"] = json
        return json
    }

    /// The month's total before `usage`: stored plus what the batch added.
    func total(_ usage: UsageIncrement) async throws -> Rational {
        if let total = totals[usage.key] { return total }
        let total = try await store.usageTotal(
            tenantId: usage.tenantId, serviceId: usage.serviceId, metric: usage.metric, month: usage.month)
        totals[usage.key] = total
        return total
    }

    func add(_ usage: UsageIncrement) {
        totals[usage.key, default: .zero] += usage.quantity
    }
}
