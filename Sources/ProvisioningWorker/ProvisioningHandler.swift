public import BillingDomain
public import CovenantMessages
public import WorkerRuntime
public import WorkerStores

/// Provisioning: tenants, catalog, services and contracts, and their lifecycle. It keeps each
/// as a versioned document (tenants and plans as the data of their last upsert, services as a
/// ``ServiceRecord``) and publishes what happened; the domain decides every rule.
public struct ProvisioningHandler: MessageHandler {
    let store: any ProvisioningStore
    let events: EventFactory
    /// The time events carry (RFC 3339), and today for the date rules; the system clock in
    /// production.
    let now: @Sendable () -> String
    /// The dates a command may name around today.
    let dateWindow: DateWindow

    public init(
        store: any ProvisioningStore, events: EventFactory, dateWindow: DateWindow = .standard,
        now: @escaping @Sendable () -> String
    ) {
        self.store = store
        self.events = events
        self.dateWindow = dateWindow
        self.now = now
    }

    /// The command types provisioning consumes: the public ones, and ``BillingRunPart``, a
    /// command provisioning sends itself (see docs/architecture.md), never one of the public
    /// interface's.
    public static let commands =
        [
            "tenant.upsert", TenantConfigure.type, "plan.upsert", "service.provision", "service.change_plan",
            "service.cancel", "billing.run",
        ] + AccessChange.types.sorted()
    /// From the internal exchange: the parts of its own runs, and the clock's runs.
    public static let subscribedEvents = [BillingRunPart.type, Command.billingRunType]

    /// How many customers a part of a billing run closes, in one transaction.
    public static let customersPerPart = 100

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        if AccessChange.types.contains(event.type) {
            return try await changeAccess(event)
        }
        if event.type == BillingRunPart.type {
            do { return try await closePeriods(event) } catch let rejection as Rejection {
                return .reject(rejection)
            }
        }
        let command: Command
        switch Command.decode(event) {
        case .failure(let rejection): return .reject(rejection)
        case .success(let decoded): command = decoded
        }
        do {
            switch command {
            case .tenantUpsert(let upsert): return try await upsertTenant(upsert, event)
            case .tenantConfigure: return try await configureTenant(event)
            case .planUpsert(let plan): return try await upsertPlan(plan, event)
            case .serviceProvision(let provision): return try await provisionService(provision, event)
            case .serviceChangePlan(let change): return try await changePlan(change, event)
            case .serviceCancel(let cancel): return try await cancelService(cancel, event)
            case .billingRun(let run): return try await startRun(asOf: run.asOf, event)
            case .usageRecord, .webhookResend, .customerUpsert:
                return .reject(Rejection(.unknownType, "provisioning does not handle \(event.type)"))
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    // MARK: Documents

    static func key(_ tenantId: String, _ id: String) -> String { "\(tenantId)/\(id)" }

    /// The stored tenant, plan and service: one that does not exist is the message's fault (a
    /// rejection); one that cannot be read is the store's (``StoreError/corrupt(_:_:_:)``).
    func tenant(_ id: String) async throws -> (TenantUpsert, Int64) {
        guard let (data, version) = try await store.jsonDocument(kind: "tenant", key: id) else {
            throw Rejection(.unknownTenant, "tenant \(id) does not exist")
        }
        return (
            try StoreError.readingStored("tenant", id) { try Command.tenant(from: data, tenantId: id).get() }, version
        )
    }

    func plan(_ tenantId: String, _ id: String) async throws -> Plan {
        let key = Self.key(tenantId, id)
        guard let (data, _) = try await store.jsonDocument(kind: "plan", key: key) else {
            throw Rejection(.unknownPlan, "plan \(id) does not exist for tenant \(tenantId)")
        }
        return try StoreError.readingStored("plan", key) { try Command.plan(from: data).get() }
    }

    func service(_ tenantId: String, _ id: String) async throws -> (ServiceRecord, Int64)? {
        let key = Self.key(tenantId, id)
        guard let (json, version) = try await store.jsonDocument(kind: "service", key: key) else { return nil }
        return (try StoreError.readingStored("service", key) { try ServiceRecord(json: json) }, version)
    }

    func write(_ record: ServiceRecord, tenantId: String, version: Int64) -> DocumentWrite {
        DocumentWrite(
            kind: "service", key: Self.key(tenantId, record.serviceId), body: record.json.serialized(),
            expectedVersion: version)
    }

    /// Commits a service's new record with the events it publishes. Each event carries the
    /// record's new `revision` (its document version): consumers apply a service's events in
    /// revision order, whatever order they arrive in. `also`: other documents the command writes.
    func commit(
        _ record: ServiceRecord, version: Int64, _ command: CloudEvent, _ changes: [ServiceEvent.Change],
        also documents: [DocumentWrite] = []
    ) -> HandlerOutcome {
        let outbox = changes.enumerated().map { index, change in
            event(change, of: record, revision: version + 1, command, index)
        }
        return .commit(
            UnitOfWork(
                messageId: command.id,
                documents: [write(record, tenantId: command.tenantId, version: version)] + documents, outbox: outbox))
    }

    /// The event of a change to `record`, leaving it at `revision`.
    func event(
        _ change: ServiceEvent.Change, of record: ServiceRecord, revision: Int64, _ command: CloudEvent, _ sequence: Int
    ) -> OutboxMessage {
        let serviceEvent = ServiceEvent(
            customerId: record.customerId, serviceId: record.serviceId, revision: revision, change: change)
        return event(serviceEvent.type, command, serviceEvent.data, sequence)
    }

    func event(_ type: String, _ command: CloudEvent, _ data: JSONValue, _ sequence: Int = 0) -> OutboxMessage {
        events.event(
            type, tenantId: command.tenantId, causationId: command.id, data: data, time: now(), sequence: sequence)
    }

    // MARK: Commands

    func upsertTenant(_ upsert: TenantUpsert, _ command: CloudEvent) async throws -> HandlerOutcome {
        let stored = try await store.jsonDocument(kind: "tenant", key: upsert.tenant.id)
        // The webhook (address and secrets) is notification's alone: provisioning keeps none of it.
        // The invoicing settings are merged: those not sent are kept.
        guard case .object(var fields) = command.data, case .object(let before) = stored?.0 ?? .object([:])
        else { throw StoreError.corrupt("tenant", upsert.tenant.id, "not an object") }
        fields["notification"] = nil
        for key in BillingSettingsCoding.keys { fields[key] = before[key] }
        let kept = try BillingSettingsCoding.merged(fields, with: Fields(command.data, path: "data"))
        // The revision orders a tenant's upserts as provisioning applied them: notification
        // applies the webhook of each in that order, not in the order the commands reach it.
        let version = stored?.1 ?? 0
        return .commit(
            UnitOfWork(
                messageId: command.id,
                documents: [
                    DocumentWrite(kind: "tenant", key: upsert.tenant.id, json: .object(kept), expectedVersion: version)
                ],
                outbox: [tenantUpdated(.object(kept), revision: version + 1, command)]))
    }

    /// `tenant.updated`: the tenant as `data` says, at `revision`.
    func tenantUpdated(_ data: JSONValue, revision: Int64, _ command: CloudEvent) -> OutboxMessage {
        event(
            "tenant.updated", command, EventPayloads.tenantUpdated(data).adding(["revision": .number(String(revision))])
        )
    }

    /// `tenant.configure`: the tenant's own settings. The invoicing settings sent are merged into
    /// the tenant's record (the webhook is notification's); the record is written even when
    /// nothing of it changed, so that the change gets the next revision, in which order
    /// notification and invoicing apply it among the upserts.
    func configureTenant(_ command: CloudEvent) async throws -> HandlerOutcome {
        guard let (stored, version) = try await store.jsonDocument(kind: "tenant", key: command.tenantId) else {
            throw Rejection(.unknownTenant, "tenant \(command.tenantId) does not exist")
        }
        guard case .object(let fields) = stored else { throw StoreError.corrupt("tenant", command.tenantId) }
        let kept = JSONValue.object(
            try BillingSettingsCoding.merged(fields, with: Fields(command.data, path: "data")))
        return .commit(
            UnitOfWork(
                messageId: command.id,
                documents: [
                    DocumentWrite(kind: "tenant", key: command.tenantId, json: kept, expectedVersion: version)
                ],
                outbox: [tenantUpdated(kept, revision: version + 1, command)]))
    }

    func upsertPlan(_ plan: Plan, _ command: CloudEvent) async throws -> HandlerOutcome {
        _ = try await tenant(command.tenantId)
        var unit = try await store.replacing(
            kind: "plan", key: Self.key(command.tenantId, plan.id), with: command.data)
        unit.outbox = [event("plan.updated", command, command.data)]
        return .commit(unit)
    }

    func provisionService(_ provision: ServiceProvision, _ command: CloudEvent) async throws -> HandlerOutcome {
        let (tenant, _) = try await tenant(command.tenantId)
        try checkWindow(provision.startDate, "data.start_date", tenant.tenant)
        let plan = try await plan(command.tenantId, provision.planId)
        if try await service(command.tenantId, provision.serviceId) != nil {
            throw Rejection(.duplicateService, "service \(provision.serviceId) already exists")
        }
        var record = ServiceRecord(
            customerId: provision.customerId, serviceId: provision.serviceId, planId: plan.id,
            billingModel: provision.billingModel, paymentMode: provision.paymentMode, startDate: provision.startDate)
        var outbox: [ServiceEvent.Change] = [
            .activated(
                ServiceEvent.Activation(
                    planId: plan.id, planName: plan.name, currency: plan.currency, serviceType: plan.serviceType,
                    billingModel: record.billingModel, startDate: record.startDate))
        ]
        if let terms = provision.contract {
            try await checkChargeTo(terms.chargeToServiceId, command, customerId: provision.customerId)
            let contract = try Contract.sign(
                id: "\(provision.serviceId)-1", customerId: provision.customerId, serviceId: provision.serviceId,
                plan: plan, tenant: tenant.tenant, paymentMode: provision.paymentMode, start: provision.startDate,
                terms: terms
            ).get()
            record.contracts = [contract]
            outbox.append(.contractActivated(contract))
        }
        let counted = try await counted(service: provision.serviceId, of: provision.customerId, command)
        return commit(record, version: 0, command, outbox, also: [counted])
    }

    /// One more service of the customer, at most `InputLimits.servicesPerCustomer` (counted as
    /// they are provisioned, ended ones too: it bounds the lines of the customer's invoices).
    func counted(
        service serviceId: String, of customerId: String, _ command: CloudEvent
    ) async throws
        -> DocumentWrite
    {
        let key = Self.key(command.tenantId, customerId)
        let stored = try await store.jsonDocument(kind: "customer_services", key: key)
        let count = stored.flatMap { json, _ in if case .number(let n) = json["services"] { Int(n) } else { nil } } ?? 0
        guard count < InputLimits.servicesPerCustomer else {
            throw Rejection(
                .invalidMessage,
                "customer \(customerId) has \(count) services, the most a customer may have: \(serviceId) is not provisioned"
            )
        }
        return DocumentWrite(
            kind: "customer_services", key: key, json: .object(["services": .number(String(count + 1))]),
            expectedVersion: stored?.1 ?? 0)
    }

    func checkChargeTo(_ serviceId: String?, _ command: CloudEvent, customerId: String) async throws {
        guard let serviceId else { return }
        guard let (other, _) = try await service(command.tenantId, serviceId), other.customerId == customerId else {
            throw Rejection(
                .unknownService, "charge_to_service_id \(serviceId) is not a service of customer \(customerId)")
        }
    }

    func activeService(_ id: String, _ command: CloudEvent) async throws -> (ServiceRecord, Int64) {
        guard let (record, version) = try await service(command.tenantId, id) else {
            throw Rejection(.unknownService, "service \(id) does not exist")
        }
        guard record.isActive else { throw Rejection(.invalidMessage, "service \(id) has ended") }
        return (record, version)
    }

    func changePlan(_ change: ServiceChangePlan, _ command: CloudEvent) async throws -> HandlerOutcome {
        let (tenant, _) = try await tenant(command.tenantId)
        try checkWindow(change.effectiveDate, "data.effective_date", tenant.tenant)
        var (record, version) = try await activeService(change.serviceId, command)
        if let rejection = record.checkNotInvoiced(change.effectiveDate) { throw rejection }
        let plan = try await plan(command.tenantId, change.planId)
        guard let current = record.currentContract else {
            // PAYG: the new plan's prices apply to usage from the change date on.
            record.planId = plan.id
            return commit(
                record, version: version, command, [.planChanged(planId: plan.id, effective: change.effectiveDate)])
        }
        try await checkChargeTo(change.overrides.chargeToServiceId, command, customerId: record.customerId)
        let result = try current.changingPlan(
            to: plan, effective: change.effectiveDate, tenant: tenant.tenant, overrides: change.overrides,
            newContractId: "\(record.serviceId)-\(record.contracts.count + 1)"
        ).get()
        record.contracts[record.contracts.count - 1] = result.endedContract
        record.contracts.append(result.newContract)
        record.planId = plan.id
        return commit(record, version: version, command, [.contractPlanChanged(result)])
    }

    func cancelService(_ cancel: ServiceCancel, _ command: CloudEvent) async throws -> HandlerOutcome {
        let (tenant, _) = try await tenant(command.tenantId)
        try checkWindow(cancel.effectiveDate, "data.effective_date", tenant.tenant)
        var (record, version) = try await activeService(cancel.serviceId, command)
        if let rejection = record.checkNotInvoiced(cancel.effectiveDate) { throw rejection }
        guard let current = record.currentContract else {
            guard cancel.effectiveDate >= record.startDate else {
                throw Rejection(.invalidMessage, "effective_date is before the service started")
            }
            record.endDate = cancel.effectiveDate
            return commit(record, version: version, command, [.cancelled(effective: cancel.effectiveDate)])
        }
        let cancellation = try current.cancelled(effective: cancel.effectiveDate, tenant: tenant.tenant).get()
        record.contracts[record.contracts.count - 1] = cancellation.contract
        return commit(record, version: version, command, [.contractCancelled(cancellation)])
    }

}

/// What a part of a billing run reads, each read once: the services and the plans of renewals.
struct RunDocuments {
    let services: BatchDocuments<ServiceRecord>
    let plans: BatchDocuments<Plan>

    init(_ store: any ProvisioningStore) {
        services = BatchDocuments("service", in: store, decode: ServiceRecord.init(json:), encode: \.json)
        plans = .plans(in: store)
    }
}
