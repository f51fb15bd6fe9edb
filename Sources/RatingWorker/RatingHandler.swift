import BillingDomain
public import CovenantMessages
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

    public init(store: any RatingStore & DocumentStore, events: EventFactory, now: @escaping @Sendable () -> String) {
        self.store = store
        self.events = events
        self.now = now
    }

    public static let commands = ["usage.record"]
    public static let subscribedEvents = [
        "tenant.updated", "service.activated", "service.cancelled", "service.plan_changed", "contract.plan_changed",
        "billing.run.completed",
    ]

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        do {
            switch event.type {
            case "usage.record":
                switch Command.decode(event) {
                case .failure(let rejection): return .reject(rejection)
                case .success(.usageRecord(let usage)): return try await rate(usage, event)
                case .success: return .reject(Rejection(.unknownType, "rating takes usage.record only"))
                }
            case "tenant.updated":
                let zone = try Fields(event.data, path: "data").optionalString("time_zone") ?? "UTC"
                return try await put("tenant", event.tenantId, .object(["time_zone": .string(zone)]))
            case "service.activated":
                let data = try Fields(event.data, path: "data")
                let key = "\(event.tenantId)/\(try data.string("service_id"))"
                return try await put(
                    "service", key,
                    .object([
                        "customer_id": .string(try data.string("customer_id")),
                        "billing_model": .string(try data.string("billing_model")),
                        "plan_id": .string(try data.string("plan_id")),
                    ]))
            case "service.cancelled", "service.plan_changed", "contract.plan_changed":
                return try await updateService(event)
            case "billing.run.completed":
                let asOf = try Fields(event.data, path: "data").date("as_of")
                let current = try await document("closed", event.tenantId)
                let known = current.flatMap { $0.0["through"] }.flatMap { value -> CalendarDate? in
                    if case .string(let text) = value { CalendarDate(iso: text) } else { nil }
                }
                let through = CalendarDate.max(known ?? asOf.startOfMonth, asOf.startOfMonth)
                return try await put("closed", event.tenantId, .object(["through": .string(through.description)]))
            default:
                return .reject(Rejection(.unknownType, "rating does not handle \(event.type)"))
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    private func document(_ kind: String, _ key: String) async throws -> (JSONValue, Int64)? {
        try await store.jsonDocument(kind: kind, key: key)
    }

    private func put(_ kind: String, _ key: String, _ body: JSONValue) async throws -> HandlerOutcome {
        .commit(try await store.replacing(kind: kind, key: key, with: body))
    }

    /// A later state of a service: its end (PAYG cancellation) or its new plan.
    private func updateService(_ event: CloudEvent) async throws -> HandlerOutcome {
        let data = try Fields(event.data, path: "data")
        let serviceId = try data.string("service_id")
        let key = "\(event.tenantId)/\(serviceId)"
        guard let (current, version) = try await document("service", key) else {
            // Not yet seen service.activated: fail, and the runtime retries until it arrives.
            throw StoreError("service \(serviceId) is not known yet")
        }
        var changes: [String: JSONValue] = [:]
        if event.type == "service.cancelled" { changes["end_date"] = .string(try data.string("effective_date")) }
        if event.type == "service.plan_changed" { changes["plan_id"] = .string(try data.string("plan_id")) }
        if event.type == "contract.plan_changed", let new = try data.optionalObject("new_contract") {
            changes["plan_id"] = .string(try new.string("plan_id"))
        }
        return .commit(
            UnitOfWork(
                messageId: nil,
                documents: [
                    DocumentWrite(kind: "service", key: key, json: current.adding(changes), expectedVersion: version)
                ]))
    }

    private func rate(_ usage: UsageRecord, _ command: CloudEvent) async throws -> HandlerOutcome {
        guard let (tenant, _) = try await document("tenant", command.tenantId) else {
            throw Rejection(.unknownTenant, "tenant \(command.tenantId) does not exist")
        }
        guard let (service, _) = try await document("service", "\(command.tenantId)/\(usage.serviceId)"),
            service["customer_id"] == .string(usage.customerId)
        else {
            throw Rejection(
                .unknownService, "service \(usage.serviceId) is not a service of customer \(usage.customerId)")
        }
        guard case .string(let zoneName) = tenant["time_zone"], let zone = TenantTimeZone(identifier: zoneName) else {
            throw StoreError("tenant \(command.tenantId) has no readable time zone")
        }
        let day = usage.date(in: zone)
        let month = day.startOfMonth
        let total = try await store.usageTotal(
            tenantId: command.tenantId, serviceId: usage.serviceId, metric: usage.metric, month: month)
        if let rejection = UsageMonth.checkQuantity(usage.quantity, total: total + usage.quantity) {
            throw rejection
        }
        let closed = try await document("closed", command.tenantId).flatMap { json, _ -> CalendarDate? in
            if case .string(let text) = json["through"] { CalendarDate(iso: text) } else { nil }
        }
        let late = closed.map { month.startOfNextMonth <= $0 } ?? false
        let record: JSONValue = .object([
            "usage_id": .string(command.id), "customer_id": .string(usage.customerId),
            "service_id": .string(usage.serviceId), "metric": .string(usage.metric),
            "quantity": .string(EventPayloads.figure(usage.quantity)),
            "month": .string(String(month.description.prefix(7))),
            "date": .string(day.description), "late": .bool(late),
            "billing_model": service["billing_model"] ?? .null, "plan_id": service["plan_id"] ?? .null,
        ])
        return .commit(
            UnitOfWork(
                messageId: command.id,
                usage: [
                    UsageIncrement(
                        tenantId: command.tenantId, serviceId: usage.serviceId, metric: usage.metric, month: month,
                        quantity: usage.quantity)
                ],
                outbox: [
                    events.event(
                        "usage.rated", tenantId: command.tenantId, causationId: command.id,
                        data: .object(["records": .array([record])]), time: now())
                ]))
    }
}
