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

    public static let commands: [String] = []
    public static let subscribedEvents = [
        "plan.updated", "service.activated", "service.plan_changed", "service.cancelled", "contract.activated",
        "contract.plan_changed", "contract.cancelled", "usage.rated", "billing.period_closed",
        "commitments.evaluated",
    ]

    /// Rated usage and a run's closed periods and evaluated drafts are taken in batches: the
    /// batch's accounts and runs are read at once, and each message is decided on the
    /// documents as the messages before it left them.
    public var batchableTypes: Set<String> { ["usage.rated", "billing.period_closed", "commitments.evaluated"] }

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
            case "plan.updated":
                return .commit(
                    try await store.replacing(
                        kind: "plan", key: Documents.key(tenant, try data.string("plan_id")), with: event.data))
            case "usage.rated":
                return try await rateUsage(data, tenant, documents)
            case "billing.period_closed":
                return try await closePeriod(data, event, documents)
            case "commitments.evaluated":
                return try await finishRun(data, event, documents)
            default:
                return try await applyServiceChange(data, event, documents)
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

        init(_ store: any InvoicingStore) {
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
        _ data: Fields, _ event: CloudEvent, _ documents: Documents
    ) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        if event.type == "service.activated", try data.string("billing_model") != "payg" {
            // A fixed-term service's state comes with `contract.activated` of the same revision.
            return .commit(UnitOfWork(messageId: nil))
        }
        let serviceId = try data.string("service_id")
        let revision = Int64(try data.int("revision", in: 1...Int(Int32.max)))
        var account = try await documents.account(tenant, try data.string("customer_id"))
        switch account.order(serviceId: serviceId, revision: revision) {
        case .applied: return .commit(UnitOfWork(messageId: nil))
        case .early: return .retryLater("service \(serviceId) revision \(revision) before its predecessor")
        case .next: break
        }
        account.revisions[serviceId] = revision
        var invoices: [Invoice] = []
        switch event.type {
        case "service.activated":
            account.changePayg(
                serviceId: serviceId, from: try data.date("start_date"),
                to: CustomerAccount.Span(
                    planId: try data.string("plan_id"), serviceType: try data.string("service_type"),
                    period: BillingPeriod(start: try data.date("start_date"), end: CustomerAccount.openEnd)))
        case "service.plan_changed":
            let planId = try data.string("plan_id")
            guard let plan = try await documents.plan(tenant, planId) else {
                return .retryLater("plan \(planId) not known yet")
            }
            let date = try data.date("effective_date")
            account.changePayg(
                serviceId: serviceId, from: date,
                to: .init(
                    planId: planId, serviceType: plan.serviceType,
                    period: BillingPeriod(start: date, end: CustomerAccount.openEnd)))
        case "service.cancelled":
            account.changePayg(serviceId: serviceId, from: try data.date("effective_date"), to: nil)
        case "contract.activated":
            account.ledger.record(try ContractEncoding.decodeContract(data.members["contract"] ?? .null))
        case "contract.cancelled":
            let contract = try ContractEncoding.decodeContract(data.members["contract"] ?? .null)
            account.ledger.record(contract)
            if let item = try data.optionalObject("early_termination") {
                let period = try item.object("period")
                account.ledger.add(
                    EarlyTerminationFee(
                        contractId: contract.id, serviceId: try item.string("service_id"),
                        period: BillingPeriod(start: try period.date("start"), end: try period.date("end")),
                        amount: Money.rounding(try item.decimal("amount"), in: contract.currency)))
            }
        case "contract.plan_changed":
            let change = ContractPlanChange(
                endedContract: try ContractEncoding.decodeContract(data.members["old_contract"] ?? .null),
                newContract: try ContractEncoding.decodeContract(data.members["new_contract"] ?? .null))
            invoices = try account.ledger.invoicePlanChange(change).get()
            account.composed += invoices.flatMap(\.lines).filter(\.countsTowardCommitments).map {
                CommitmentLedger.CountedLine(period: $0.period, amount: $0.amount)
            }
        default:
            return .reject(Rejection(.unknownType, "invoicing does not handle \(event.type)"))
        }
        var unit = UnitOfWork(messageId: nil, documents: documents.write([account], tenant))
        if !invoices.isEmpty {
            announce(invoices, tenant: tenant, causation: event.causationId ?? event.id, into: &unit)
            unit.outbox.append(
                events.event(
                    "billing.run.completed", tenantId: tenant, causationId: event.causationId ?? event.id,
                    data: EventPayloads.billingRunCompleted(
                        asOf: invoices[0].issueDate, invoiceIds: invoices.map(\.id)),
                    time: now()))
        }
        return .commit(unit)
    }

    /// Stores invoices and adds `invoice.ready` for each.
    func announce(_ invoices: [Invoice], tenant: String, causation: String, into unit: inout UnitOfWork) {
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
    }

    func rateUsage(_ data: Fields, _ tenant: String, _ documents: Documents) async throws -> HandlerOutcome {
        var changed: [String: CustomerAccount] = [:]
        for record in try data.objects("records") {
            // Fixed-term services are not metered: their usage is kept by rating and commitments.
            guard try record.string("billing_model") == "payg" else { continue }
            let serviceId = try record.string("service_id")
            let customer = try record.string("customer_id")
            var account = try await changed[customer].asyncOr { try await documents.account(tenant, customer) }
            let date = try record.date("date")
            let planId: String
            if let running = account.paygPlan(serviceId: serviceId, on: date) {
                planId = running
            } else if account.paygSpans[serviceId] == nil {
                return .retryLater("service \(serviceId) not known yet")
            } else if let named = try record.optionalString("plan_id") {
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
                        "usage.id": "\((try? record.string("usage_id")) ?? "-")", "usage.date": "\(date)",
                    ])
                continue
            }
            guard let plan = try await documents.plan(tenant, planId) else {
                return .retryLater("plan \(planId) not known yet")
            }
            let metric = try record.string("metric")
            guard let price = plan.usagePrices[metric] else { continue }  // not priced on the plan
            if let rejection = account.ledger.recordUsage(
                serviceId: serviceId, metric: metric, quantity: try record.decimal("quantity"), on: date, price: price,
                currency: plan.currency)
            {
                throw rejection
            }
            changed[customer] = account
        }
        return .commit(UnitOfWork(messageId: nil, documents: documents.write(Array(changed.values), tenant)))
    }

}
