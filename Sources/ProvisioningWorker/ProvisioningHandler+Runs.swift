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
        let commands = EventFactory(source: events.source, exchange: Topology.commandsExchange)
        let customers = servicesByCustomer.sorted { $0.key < $1.key }
        let outbox = stride(from: 0, to: customers.count, by: Self.customersPerPart).map { first in
            let part = customers[first..<min(first + Self.customersPerPart, customers.count)]
            let runPart = BillingRunPart(
                runId: command.id, asOf: asOf, customers: customers.count,
                part: part.map { BillingRunPart.Customer(customerId: $0.key, serviceIds: $0.value) })
            return commands.event(
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
        let documents = RunDocuments(store)
        try await documents.services.prefetch(serviceIds.map { Self.key(command.tenantId, $0) })
        var changed: [String: ServiceRecord] = [:]
        var outbox: [OutboxMessage] = []
        for customer in part {
            let services = try await closePeriod(
                of: customer.customerId, customer.serviceIds, asOf: asOf, tenant: tenant, command, documents,
                changed: &changed, outbox: &outbox)
            let closed = BillingPeriodClosed(
                runId: runId, asOf: asOf, customerId: customer.customerId, customers: customers, services: services)
            outbox.append(
                events.event(
                    BillingPeriodClosed.type, tenantId: command.tenantId, causationId: runId, data: closed.data,
                    time: now(), key: customer.customerId))
        }
        // Written last: a part rejected halfway leaves its services as they were.
        return .commit(UnitOfWork(messageId: command.id, documents: documents.services.writes(changed), outbox: outbox))
    }

    /// One customer's services closed through the run's cutoff, renewed or expired as their
    /// terms call for: their changed records into `changed`, their contract events into
    /// `outbox`; returns each service's state for `billing.period_closed`.
    func closePeriod(
        of customer: String, _ serviceIds: [String], asOf: CalendarDate, tenant: Tenant, _ command: CloudEvent,
        _ documents: RunDocuments, changed: inout [String: ServiceRecord], outbox: inout [OutboxMessage]
    ) async throws -> [BillingPeriodClosed.Service] {
        let cutoff = asOf.startOfMonth
        var services: [BillingPeriodClosed.Service] = []
        for serviceId in serviceIds {
            let key = Self.key(command.tenantId, serviceId)
            guard let before = try await documents.services.value(key), before.customerId == customer else {
                throw Rejection(.unknownService, "service \(serviceId) is not a service of customer \(customer)")
            }
            let version = documents.services.version(key)
            var record = before
            var changes: [ServiceEvent.Change] = []
            while record.endDate == nil, let current = record.currentContract, current.closing == nil,
                current.termEnd < asOf
            {
                // The date window bounds this to about 121 (one-month terms over ten years);
                // the cap is the guarantee that one run's transaction stays small.
                guard changes.count < Self.maximumRenewalsPerRun else {
                    throw Rejection(
                        .dateOutOfRange,
                        "service \(serviceId) would renew more than \(Self.maximumRenewalsPerRun) times in one run")
                }
                guard let plan = try await documents.plans.value(Self.key(command.tenantId, record.planId)) else {
                    throw Rejection(.unknownPlan, "plan \(record.planId) does not exist")
                }
                let next = try current.renewal(
                    plan: plan, tenant: tenant, newContractId: "\(record.serviceId)-\(record.contracts.count + 1)"
                ).get()
                if let next {
                    record.contracts.append(next)
                    changes.append(.contractRenewed(oldContractId: current.id, new: next))
                } else {
                    record.endDate = current.termEnd
                    changes.append(.contractExpired(contractId: current.id, endDate: current.termEnd))
                }
            }
            if record.isActive, (record.closedThrough ?? cutoff) <= cutoff { record.closedThrough = cutoff }
            let revision = record == before ? version : version + 1
            if record != before { changed[key] = record }
            for change in changes {
                outbox.append(event(Self.serviceEvent(change, record, revision: revision), command, outbox.count))
            }
            services.append(
                BillingPeriodClosed.Service(
                    serviceId: record.serviceId, planId: record.planId, billingModel: record.billingModel,
                    revision: revision, previousRevision: version, contracts: record.contracts))
        }
        return services
    }
}
