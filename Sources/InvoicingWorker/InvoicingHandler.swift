import BillingDomain
public import CovenantMessages
public import WorkerRuntime
public import WorkerStores

/// Invoicing: keeps each customer's ledger from provisioning's and rating's events, issues the
/// invoices of billing runs and plan changes, and publishes `invoice.ready` and
/// `billing.run.completed`. (Commitment shortfall lines join once the commitments worker
/// exchanges drafts with it; until then runs issue recurring, usage and early-termination lines.)
public struct InvoicingHandler: MessageHandler {
    let store: any InvoicingStore
    let events: EventFactory
    let now: @Sendable () -> String

    public init(store: any InvoicingStore, events: EventFactory, now: @escaping @Sendable () -> String) {
        self.store = store
        self.events = events
        self.now = now
    }

    public static let commands = ["billing.run"]
    public static let subscribedEvents = [
        "plan.updated", "service.activated", "service.plan_changed", "contract.activated", "contract.plan_changed",
        "contract.cancelled", "contract.renewed", "usage.rated",
    ]

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        do {
            let data = try Fields(event.data, path: "data")
            let tenant = event.tenantId
            switch event.type {
            case "billing.run":
                guard case .success(.billingRun(let run)) = Command.decode(event) else {
                    return .reject(Command.decode(event).failure ?? Rejection(.invalidMessage, "bad billing.run"))
                }
                return try await billingRun(run.asOf, event)
            case "plan.updated":
                return try await put("plan", "\(tenant)/\(try data.string("plan_id"))", event.data)
            case "service.activated":
                return try await put("service", "\(tenant)/\(try data.string("service_id"))", event.data)
            case "service.plan_changed":
                let key = "\(tenant)/\(try data.string("service_id"))"
                guard let (service, version) = try await document("service", key) else {
                    throw StoreError("service of \(key) not known yet")
                }
                return .commit(
                    UnitOfWork(
                        messageId: nil,
                        documents: [
                            write(
                                "service", key, service.adding(["plan_id": .string(try data.string("plan_id"))]),
                                version)
                        ]))
            case "contract.activated", "contract.renewed":
                let contract = try ContractEncoding.decodeContract(data.members["contract"] ?? .null)
                return try await updateLedger(tenant, contract.customerId, causation: event.id) { ledger in
                    ledger.record(contract)
                    return []
                }
            case "contract.cancelled":
                let contract = try ContractEncoding.decodeContract(data.members["contract"] ?? .null)
                let fee = try data.optionalObject("early_termination").map { item throws(Rejection) in
                    let period = try item.object("period")
                    return EarlyTerminationFee(
                        contractId: contract.id, serviceId: try item.string("service_id"),
                        period: BillingPeriod(start: try period.date("start"), end: try period.date("end")),
                        amount: Money.rounding(try item.decimal("amount"), in: contract.currency))
                }
                return try await updateLedger(tenant, contract.customerId, causation: event.id) { ledger in
                    ledger.record(contract)
                    if let fee { ledger.add(fee) }
                    return []
                }
            case "contract.plan_changed":
                let change = ContractPlanChange(
                    endedContract: try ContractEncoding.decodeContract(data.members["old_contract"] ?? .null),
                    newContract: try ContractEncoding.decodeContract(data.members["new_contract"] ?? .null))
                let outcome = try await updateLedger(tenant, change.newContract.customerId, causation: event.id) {
                    ledger in
                    try ledger.invoicePlanChange(change).get()
                }
                return outcome
            case "usage.rated":
                return try await rateUsage(data, tenant)
            default:
                return .reject(Rejection(.unknownType, "invoicing does not handle \(event.type)"))
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    // MARK: Documents

    private func document(_ kind: String, _ key: String) async throws -> (JSONValue, Int64)? {
        try await store.jsonDocument(kind: kind, key: key)
    }

    private func write(_ kind: String, _ key: String, _ body: JSONValue, _ version: Int64) -> DocumentWrite {
        DocumentWrite(kind: kind, key: key, json: body, expectedVersion: version)
    }

    private func put(_ kind: String, _ key: String, _ body: JSONValue) async throws -> HandlerOutcome {
        .commit(try await store.replacing(kind: kind, key: key, with: body))
    }

    private func ledger(_ tenant: String, _ customer: String) async throws -> (CustomerLedger, Int64) {
        guard let (json, version) = try await document("ledger", "\(tenant)/\(customer)") else {
            return (CustomerLedger(customerId: customer), 0)
        }
        return (try LedgerCoding.decode(json), version)
    }

    /// Changes one customer's ledger; the invoices the change issues are stored and announced.
    private func updateLedger(
        _ tenant: String, _ customer: String, causation: String, _ change: (inout CustomerLedger) throws -> [Invoice]
    ) async throws -> HandlerOutcome {
        var (ledger, version) = try await ledger(tenant, customer)
        let invoices = try change(&ledger)
        var unit = UnitOfWork(
            messageId: nil, documents: [write("ledger", "\(tenant)/\(customer)", LedgerCoding.encode(ledger), version)])
        announce(invoices, tenant: tenant, asOf: invoices.first?.issueDate, into: &unit, causation: causation)
        return .commit(unit)
    }

    /// Stores invoices and adds `invoice.ready` for each and one `billing.run.completed`.
    private func announce(
        _ invoices: [Invoice], tenant: String, asOf: CalendarDate?, into unit: inout UnitOfWork, causation: String
    ) {
        guard let asOf else { return }
        for (index, invoice) in invoices.enumerated() {
            unit.invoices.append(
                StoredInvoice(
                    tenantId: tenant, invoiceId: invoice.id, customerId: invoice.customerId,
                    currency: invoice.currency.code,
                    issueDate: invoice.issueDate, subtotal: invoice.subtotal.amount,
                    discountTotal: invoice.discountTotal.amount, total: invoice.total.amount,
                    body: EventPayloads.invoiceReady(invoice).serialized()))
            unit.outbox.append(
                events.event(
                    "invoice.ready", tenantId: tenant, causationId: causation,
                    data: EventPayloads.invoiceReady(invoice),
                    time: now(), sequence: index))
        }
        unit.outbox.append(
            events.event(
                "billing.run.completed", tenantId: tenant, causationId: causation,
                data: EventPayloads.billingRunCompleted(asOf: asOf, invoiceIds: invoices.map(\.id)), time: now()))
    }

    private func rateUsage(_ data: Fields, _ tenant: String) async throws -> HandlerOutcome {
        var changed: [String: (CustomerLedger, Int64)] = [:]
        for record in try data.objects("records") {
            // Fixed-term services are not metered: their usage is kept by rating and commitments.
            guard try record.string("billing_model") == "payg" else { continue }
            let serviceId = try record.string("service_id")
            guard let (service, _) = try await document("service", "\(tenant)/\(serviceId)") else {
                throw StoreError("service \(serviceId) not known yet")
            }
            let planId = try Fields(service, path: "service").string("plan_id")
            guard let (planData, _) = try await document("plan", "\(tenant)/\(planId)") else {
                throw StoreError("plan \(planId) not known yet")
            }
            let plan = try Command.plan(from: planData).get()
            let metric = try record.string("metric")
            guard let price = plan.usagePrices[metric] else { continue }  // not priced on the plan
            let customer = try record.string("customer_id")
            var (ledger, version): (CustomerLedger, Int64)
            if let known = changed[customer] {
                (ledger, version) = known
            } else {
                (ledger, version) = try await self.ledger(tenant, customer)
            }
            if let rejection = ledger.recordUsage(
                serviceId: serviceId, metric: metric, quantity: try record.decimal("quantity"),
                on: try record.date("date"), price: price, currency: plan.currency)
            {
                throw rejection
            }
            changed[customer] = (ledger, version)
        }
        return .commit(
            UnitOfWork(
                messageId: nil,
                documents: changed.sorted { $0.key < $1.key }.map { customer, entry in
                    write("ledger", "\(tenant)/\(customer)", LedgerCoding.encode(entry.0), entry.1)
                }))
    }

    private func billingRun(_ asOf: CalendarDate, _ command: CloudEvent) async throws -> HandlerOutcome {
        var unit = UnitOfWork(messageId: nil)
        var invoices: [Invoice] = []
        for stored in try await store.documents(kind: "ledger", keyPrefix: "\(command.tenantId)/") {
            guard let json = JSONValue.parse(stored.body) else {
                throw StoreError("ledger \(stored.key) is unreadable")
            }
            var ledger = try LedgerCoding.decode(json)
            let coveredBefore = ledger.coveredThrough
            let issued = ledger.runBilling(asOf: asOf)
            // A run that issues nothing still moves what counts as late: keep it then too.
            guard !issued.isEmpty || ledger.coveredThrough != coveredBefore else { continue }
            unit.documents.append(write("ledger", stored.key, LedgerCoding.encode(ledger), stored.version))
            invoices += issued
        }
        announce(invoices, tenant: command.tenantId, asOf: asOf, into: &unit, causation: command.id)
        return .commit(unit)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
