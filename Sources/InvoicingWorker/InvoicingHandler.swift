import BillingDomain
public import CovenantMessages
public import Logging
public import WorkerRuntime
public import WorkerStores

/// Invoicing: keeps each customer's account from provisioning's and rating's events, drafts
/// the customer's invoices when provisioning closes a billing period, has the commitments
/// worker evaluate the draft when the customer has commitments, and issues the invoices:
/// `invoice.ready` for each, and `billing.run.completed` once every customer of the run is
/// done. A plan change's invoice is issued at once.
///
/// Provisioning's events of a service carry the service's revision and apply in that order:
/// one that arrives early waits in the retry queue (see docs/architecture.md).
public struct InvoicingHandler: MessageHandler {
    let store: any InvoicingStore
    let events: EventFactory
    let now: @Sendable () -> String
    let logger: Logger

    public init(
        store: any InvoicingStore, events: EventFactory, now: @escaping @Sendable () -> String,
        logger: Logger = Logger(label: "covenant.invoicing")
    ) {
        self.store = store
        self.logger = logger
        self.events = events
        self.now = now
    }

    public static let commands = [CustomerUpsert.type]
    public static let subscribedEvents = [
        "tenant.updated", "plan.updated", ServiceEvent.activated, ServiceEvent.planChanged, ServiceEvent.cancelled,
        ServiceEvent.contractActivated, ServiceEvent.contractPlanChanged, ServiceEvent.contractCancelled,
        UsageRated.type, BillingPeriodClosed.type,
        CommitmentsEvaluated.type,
    ]

    /// Rated usage and a run's closed periods and evaluated drafts are taken in batches: the
    /// batch's accounts and runs are read at once, and each message is decided on the
    /// documents as the messages before it left them.
    public var batchableTypes: Set<String> { [UsageRated.type, BillingPeriodClosed.type, CommitmentsEvaluated.type] }

    public func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        let documents = Documents(store)
        var runs: [String] = []
        var runCustomers: [String] = []
        for event in events {
            guard case .string(let run)? = event.data["run_id"], case .string(let customer)? = event.data["customer_id"]
            else { continue }
            runs.append(Documents.runKey(event.tenantId, run))
            runCustomers.append(Documents.runCustomerKey(event.tenantId, run, customer))
        }
        try await documents.accounts.prefetch(
            events.flatMap { event in event.customerIds.map { Documents.key(event.tenantId, $0) } })
        try await documents.runs.prefetch(runs)
        try await documents.runCustomers.prefetch(runCustomers)
        try await documents.profiles.customers.prefetch(
            events.flatMap { event in event.customerIds.map { Documents.key(event.tenantId, $0) } })
        return try await events.asyncMap { try await handle($0, documents) }
    }

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        try await handle(event, Documents(store))
    }

    func handle(_ event: CloudEvent, _ documents: Documents) async throws -> HandlerOutcome {
        do {
            let data = try Fields(event.data, path: "data")
            let tenant = event.tenantId
            switch event.type {
            case "tenant.updated":
                return try await applyTenantSettings(event, documents.profiles)
            case CustomerUpsert.type:
                return try await upsertCustomer(event, documents.profiles)
            case "plan.updated":
                return .commit(
                    try await store.replacing(
                        kind: "plan", key: Documents.key(tenant, try data.string("plan_id")), with: event.data))
            case UsageRated.type:
                return try await rateUsage(UsageRated(decoding: event), tenant, documents)
            case BillingPeriodClosed.type:
                return try await closePeriod(BillingPeriodClosed(decoding: event), event, documents)
            case CommitmentsEvaluated.type:
                return try await finishRun(CommitmentsEvaluated(decoding: event), event, documents)
            default:
                return try await applyServiceChange(ServiceEvent(decoding: event), event, documents)
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    // MARK: Accounts

    /// The documents a message (or a batch of them) reads, each read once: accounts, plans,
    /// and billing runs' counts and customers' invoice ids.
    final class Documents {
        let accounts: BatchDocuments<CustomerAccount>
        let plans: BatchDocuments<Plan>
        let runs: BatchDocuments<JSONValue>
        let runCustomers: BatchDocuments<JSONValue>
        let profiles: Profiles

        init(_ store: any InvoicingStore) {
            profiles = Profiles(store)
            accounts = BatchDocuments("account", in: store, decode: CustomerAccount.init(json:), encode: \.json)
            plans = .plans(in: store)
            runs = BatchDocuments("run", in: store)
            runCustomers = BatchDocuments("run-customer", in: store)
        }

        static func key(_ tenant: String, _ id: String) -> String { "\(tenant)/\(id)" }

        /// A billing run's count of customers done.
        static func runKey(_ tenant: String, _ run: String) -> String { key(tenant, run) }

        /// A customer's invoice ids in a billing run: under the run's key, so the last
        /// customer reads them all by prefix.
        static func runCustomerKey(_ tenant: String, _ run: String, _ customer: String) -> String {
            "\(runKey(tenant, run))/\(customer)"
        }

        func plan(_ tenant: String, _ id: String) async throws -> Plan? {
            try await plans.value(Self.key(tenant, id))
        }

        func account(_ tenant: String, _ customer: String) async throws -> CustomerAccount {
            try await accounts.value(Self.key(tenant, customer)) ?? CustomerAccount(customerId: customer)
        }

        /// The writes of a message's changed accounts.
        func write(_ changed: [CustomerAccount], _ tenant: String) -> [DocumentWrite] {
            accounts.writes(
                Dictionary(changed.map { (Self.key(tenant, $0.ledger.customerId), $0) }) { $1 })
        }
    }

    /// One of provisioning's events for a service, applied in revision order.
    func applyServiceChange(
        _ serviceEvent: ServiceEvent, _ event: CloudEvent, _ documents: Documents
    ) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        if case .activated(let activation) = serviceEvent.change, activation.billingModel != .payg {
            // A fixed-term service's state comes with `contract.activated` of the same revision.
            return .commit(UnitOfWork(messageId: nil))
        }
        let (serviceId, revision) = (serviceEvent.serviceId, serviceEvent.revision)
        var account = try await documents.account(tenant, serviceEvent.customerId)
        switch account.order(serviceId: serviceId, revision: revision) {
        case .applied: return .commit(UnitOfWork(messageId: nil))
        case .early: return .retryLater("service \(serviceId) revision \(revision) before its predecessor")
        case .next: break
        }
        account.revisions[serviceId] = revision
        var invoices: [Invoice] = []
        switch serviceEvent.change {
        case .activated(let activation):
            account.changePayg(
                serviceId: serviceId, from: activation.startDate,
                to: CustomerAccount.Span(
                    planId: activation.planId, serviceType: activation.serviceType,
                    period: BillingPeriod(start: activation.startDate, end: CustomerAccount.openEnd)))
        case .planChanged(let planId, let date):
            guard let plan = try await documents.plan(tenant, planId) else {
                return .retryLater("plan \(planId) not known yet")
            }
            account.changePayg(
                serviceId: serviceId, from: date,
                to: .init(
                    planId: planId, serviceType: plan.serviceType,
                    period: BillingPeriod(start: date, end: CustomerAccount.openEnd)))
        case .cancelled(let effective):
            account.changePayg(serviceId: serviceId, from: effective, to: nil)
        case .contractActivated(let contract):
            account.ledger.record(contract)
        case .contractCancelled(let cancellation):
            account.ledger.record(cancellation.contract)
            if let fee = cancellation.earlyTerminationFee { account.ledger.add(fee) }
        case .contractPlanChanged(let change):
            invoices = try account.ledger.invoicePlanChange(change).get()
            account.composed += invoices.flatMap(\.lines).filter(\.countsTowardCommitments).map {
                CommitmentLedger.CountedLine(period: $0.period, amount: $0.amount)
            }
        case .contractRenewed, .contractExpired:
            return .reject(Rejection(.unknownType, "invoicing does not handle \(event.type)"))
        }
        var unit = UnitOfWork(messageId: nil, documents: documents.write([account], tenant))
        if !invoices.isEmpty {
            let final = try await announce(
                invoices, tenant: tenant, causation: event.causationId ?? event.id, documents: documents, into: &unit)
            unit.outbox.append(
                events.event(
                    "billing.run.completed", tenantId: tenant, causationId: event.causationId ?? event.id,
                    data: EventPayloads.billingRunCompleted(asOf: invoices[0].issueDate, invoiceIds: final.map(\.id)),
                    time: now()))
        }
        return .commit(unit)
    }

    /// Makes invoices final (``finalise(_:tenant:profiles:)``), stores them and adds
    /// `invoice.ready` for each; returns them.
    @discardableResult
    func announce(
        _ issued: [Invoice], tenant: String, causation: String, documents: Documents, into unit: inout UnitOfWork
    ) async throws -> [Invoice] {
        let (invoices, numbering) = try await finalise(issued, tenant: tenant, profiles: documents.profiles)
        unit.documents += numbering
        for invoice in invoices {
            let payload = EventPayloads.invoiceReady(invoice)
            unit.invoices.append(
                StoredInvoice(
                    tenantId: tenant, invoiceId: invoice.id, customerId: invoice.customerId,
                    currency: invoice.currency.code, issueDate: invoice.issueDate, subtotal: invoice.subtotal.amount,
                    discountTotal: invoice.discountTotal.amount, total: invoice.total.amount,
                    body: payload.serialized()))
            unit.outbox.append(
                events.event(
                    "invoice.ready", tenantId: tenant, causationId: causation, data: payload, time: now(),
                    key: invoice.id))
        }
        return invoices
    }

    func rateUsage(_ rated: UsageRated, _ tenant: String, _ documents: Documents) async throws -> HandlerOutcome {
        var changed: [String: CustomerAccount] = [:]
        for record in rated.records {
            // Fixed-term services are not metered: their usage is kept by rating and commitments.
            guard record.billingModel == .payg else { continue }
            let serviceId = record.serviceId
            let customer = record.customerId
            var account = try await changed[customer].asyncOr { try await documents.account(tenant, customer) }
            let date = record.date
            let planId: String
            if let running = account.paygPlan(serviceId: serviceId, on: date) {
                planId = running
            } else if account.paygSpans[serviceId] == nil {
                return .retryLater("service \(serviceId) not known yet")
            } else if let named = record.planId {
                // The day is outside the service's life as invoicing knows it: rating took the
                // usage before it learned of a cancellation dated earlier. It is charged on the
                // plan the record names (the one rating rated it on), as it would have been had
                // it arrived before the cancellation.
                planId = named
            } else {
                // Nothing prices it, and waiting would hold the event's other records for ever.
                logger.warning(
                    "usage outside its service's life, naming no plan, is not charged",
                    metadata: [
                        "tenant.id": "\(tenant)", "customer.id": "\(customer)", "service.id": "\(serviceId)",
                        "usage.id": "\(record.usageId)", "usage.date": "\(date)",
                    ])
                continue
            }
            guard let plan = try await documents.plan(tenant, planId) else {
                return .retryLater("plan \(planId) not known yet")
            }
            let metric = record.metric
            guard let price = plan.usagePrices[metric] else { continue }  // not priced on the plan
            if let rejection = account.ledger.recordUsage(
                serviceId: serviceId, metric: metric, quantity: record.quantity, on: date, price: price,
                currency: plan.currency)
            {
                throw rejection
            }
            changed[customer] = account
        }
        return .commit(UnitOfWork(messageId: nil, documents: documents.write(Array(changed.values), tenant)))
    }

}
