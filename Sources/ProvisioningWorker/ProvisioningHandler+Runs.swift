import BillingDomain
import CovenantMessages
import WorkerRuntime
import WorkerStores

/// Provisioning's part of a billing run: the run split into parts, and each part's periods closed.
extension ProvisioningHandler {
    /// A billing run as of `asOf`, the provisioning step, begun: the tenant's customers are
    /// split into parts of ``customersPerPart``, each a ``BillingRunPart`` command (with the run's
    /// customer count and each customer's services) that provisioning sends itself and handles
    /// like any command. The run reads the services a page at a time and keeps only customer
    /// and service ids, so neither it nor any part holds the whole tenant. A tenant without
    /// customers completes the run here.
    func startRun(asOf: CalendarDate, _ command: CloudEvent) async throws -> HandlerOutcome {
        let (tenant, _) = try await tenant(command.tenantId)
        try checkRunDate(asOf, tenant.tenant)
        var servicesByCustomer: [String: [String]] = [:]
        try await store.forEachPage(kind: "service", keyPrefix: "\(command.tenantId)/") { page in
            for stored in page {
                guard let json = JSONValue.parse(stored.body), case .string(let customer)? = json["customer_id"],
                    case .string(let service)? = json["service_id"]
                else { throw StoreError.corrupt("service", stored.key) }
                servicesByCustomer[customer, default: []].append(service)
            }
        }
        guard !servicesByCustomer.isEmpty else {
            return .commit(
                UnitOfWork(
                    messageId: command.id,
                    outbox: [
                        event(
                            "billing.run.completed", command,
                            EventPayloads.billingRunCompleted(asOf: asOf, invoiceIds: []))
                    ]))
        }
        let customers = servicesByCustomer.sorted { $0.key < $1.key }
        let outbox = stride(from: 0, to: customers.count, by: Self.customersPerPart).map { first in
            let part = customers[first..<min(first + Self.customersPerPart, customers.count)]
            let runPart = BillingRunPart(
                runId: command.id, asOf: asOf, customers: customers.count,
                part: part.map { BillingRunPart.Customer(customerId: $0.key, serviceIds: $0.value) })
            return events.event(
                BillingRunPart.type, tenantId: command.tenantId, causationId: command.id, data: runPart.data,
                time: now(), sequence: first / Self.customersPerPart)
        }
        return .commit(UnitOfWork(messageId: command.id, outbox: outbox))
    }

    /// A part of a billing run: for each of its customers, every contract whose term ended
    /// before the run's date renews (`auto_renew`, `renew_to`, as many times as the date calls
    /// for) or expires (`contract.renewed`, `contract.expired`); the days before the run's
    /// cutoff are closed (no plan change or cancellation may be dated inside them afterwards);
    /// and the customer gets `billing.period_closed` with the state and revision of each of
    /// their services, from which invoicing bills. One transaction for the part; a customer
    /// or service named twice, or a service not the customer's, rejects the whole part.
    func closePeriods(_ command: CloudEvent) async throws -> HandlerOutcome {
        let runPart = try BillingRunPart(decoding: command)
        let (runId, asOf, customers, part) = (runPart.runId, runPart.asOf, runPart.customers, runPart.part)
        guard Set(part.map(\.customerId)).count == part.count else {
            throw Rejection(.invalidMessage, "data.part names a customer twice")
        }
        let serviceIds = part.flatMap(\.serviceIds)
        guard Set(serviceIds).count == serviceIds.count else {
            throw Rejection(.invalidMessage, "data.part names a service twice")
        }
        let tenant = try await self.tenant(command.tenantId).0.tenant
        // A part is a command like any other: whoever sent it, its date is checked again.
        try checkRunDate(asOf, tenant)
        // Load: the part's services and their plans, each read once, before anything is decided.
        let documents = RunDocuments(store)
        let keys = serviceIds.map { Self.key(command.tenantId, $0) }
        try await documents.services.prefetch(keys)
        var stored: [String: (record: ServiceRecord, version: Int64)] = [:]
        for key in keys {
            if let record = try await documents.services.value(key) {
                stored[key] = (record, documents.services.version(key))
            }
        }
        let planKeys = Set(
            stored.values.filter { $0.record.renews(asOf: asOf) }.map { Self.key(command.tenantId, $0.record.planId) })
        try await documents.plans.prefetch(planKeys)
        var plans: [String: Plan] = [:]
        for key in planKeys { plans[key] = try await documents.plans.value(key) }
        // Decide: each customer's services closed, without the store.
        var changed: [String: ServiceRecord] = [:]
        var outbox: [OutboxMessage] = []
        for customer in part {
            let services = try closePeriod(
                of: customer.customerId, customer.serviceIds, asOf: asOf, tenant: tenant, command,
                stored: stored, plans: plans, changed: &changed, outbox: &outbox)
            let closed = BillingPeriodClosed(
                runId: runId, asOf: asOf, customerId: customer.customerId, customers: customers, services: services)
            outbox.append(
                events.event(
                    BillingPeriodClosed.type, tenantId: command.tenantId, causationId: runId, data: closed.data,
                    time: now(), key: customer.customerId))
        }
        // Commit: written last, so a part rejected halfway leaves its services as they were.
        return .commit(UnitOfWork(messageId: command.id, documents: documents.services.writes(changed), outbox: outbox))
    }

    /// One customer's services closed through the run's cutoff, renewed or expired as their
    /// terms call for (``ServiceRecord/closingPeriod(asOf:tenant:plan:)``): their changed records
    /// into `changed`, their contract events into `outbox`; returns each service's state for
    /// `billing.period_closed`.
    func closePeriod(
        of customer: String, _ serviceIds: [String], asOf: CalendarDate, tenant: Tenant, _ command: CloudEvent,
        stored: [String: (record: ServiceRecord, version: Int64)], plans: [String: Plan],
        changed: inout [String: ServiceRecord], outbox: inout [OutboxMessage]
    ) throws(Rejection) -> [BillingPeriodClosed.Service] {
        var services: [BillingPeriodClosed.Service] = []
        for serviceId in serviceIds {
            let key = Self.key(command.tenantId, serviceId)
            guard let (before, version) = stored[key], before.customerId == customer else {
                throw Rejection(.unknownService, "service \(serviceId) is not a service of customer \(customer)")
            }
            let (record, changes) = try before.closingPeriod(
                asOf: asOf, tenant: tenant, plan: plans[Self.key(command.tenantId, before.planId)]
            ).get()
            let revision = record == before ? version : version + 1
            if record != before { changed[key] = record }
            for change in changes {
                let serviceChange: ServiceEvent.Change =
                    switch change {
                    case .renewed(let old, let new): .contractRenewed(oldContractId: old.id, new: new)
                    case .expired(let contract): .contractExpired(contractId: contract.id, endDate: contract.termEnd)
                    }
                outbox.append(event(serviceChange, of: record, revision: revision, command, outbox.count))
            }
            services.append(
                BillingPeriodClosed.Service(
                    serviceId: record.serviceId, planId: record.planId, billingModel: record.billingModel,
                    revision: revision, previousRevision: version, contracts: record.contracts))
        }
        return services
    }
}
