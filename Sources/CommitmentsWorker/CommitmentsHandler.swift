import BillingDomain
public import CovenantMessages
public import WorkerRuntime
public import WorkerStores

/// Commitments: keeps each customer's commitment ledger (contracts, service spans, usage by
/// day, the lines counted toward `invoice_amount`, windows already evaluated) and evaluates the
/// windows a billing run closes when invoicing sends the run's draft. Usage comes from
/// `usage.rated`; contracts, spans and lines come with each draft, the state invoicing billed.
public struct CommitmentsHandler: MessageHandler {
    let store: any CommitmentsStore
    let events: EventFactory
    let now: @Sendable () -> String

    public init(store: any CommitmentsStore, events: EventFactory, now: @escaping @Sendable () -> String) {
        self.store = store
        self.events = events
        self.now = now
    }

    public static let commands: [String] = []
    public static let subscribedEvents = ["usage.rated", "invoice.drafted"]

    /// Rated usage and drafts are taken in batches: the batch's ledgers are read at once, and
    /// each message works on the ledger as the messages before it left it. (A billing run's
    /// drafts, one transaction each, had made commitments commit once per customer with a
    /// commitment.)
    public var batchableTypes: Set<String> { ["usage.rated", "invoice.drafted"] }

    public func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        let ledgers = ledgers()
        try await ledgers.prefetch(events.flatMap { event in event.customerIds.map { "\(event.tenantId)/\($0)" } })
        return try await events.asyncMap { try await handle($0, ledgers) }
    }

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        try await handle(event, ledgers())
    }

    private func handle(
        _ event: CloudEvent, _ ledgers: BatchDocuments<CommitmentLedger>
    ) async throws
        -> HandlerOutcome
    {
        do {
            let data = try Fields(event.data, path: "data")
            switch event.type {
            case "usage.rated": return try await recordUsage(data, event.tenantId, ledgers)
            case "invoice.drafted": return try await evaluate(data, event, ledgers)
            default: return .reject(Rejection(.unknownType, "commitments does not handle \(event.type)"))
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    /// Customers' ledgers, keyed `tenant/customer`.
    private func ledgers() -> BatchDocuments<CommitmentLedger> {
        BatchDocuments(
            "ledger", in: store, decode: CommitmentLedgerCoding.decode, encode: CommitmentLedgerCoding.encode)
    }

    private func currentLedger(
        _ tenant: String, _ customer: String, _ ledgers: BatchDocuments<CommitmentLedger>
    ) async throws -> CommitmentLedger {
        try await ledgers.value("\(tenant)/\(customer)") ?? CommitmentLedger(customerId: customer)
    }

    /// Usage of every service, by day: what usage commitments measure.
    private func recordUsage(
        _ data: Fields, _ tenant: String, _ ledgers: BatchDocuments<CommitmentLedger>
    ) async throws -> HandlerOutcome {
        var changed: [String: CommitmentLedger] = [:]
        for record in try data.objects("records") {
            let customer = try record.string("customer_id")
            let key = "\(tenant)/\(customer)"
            var ledger = try await changed[key].asyncOr { try await currentLedger(tenant, customer, ledgers) }
            if let rejection = ledger.recordUsage(
                serviceId: try record.string("service_id"), metric: try record.string("metric"),
                quantity: try record.decimal("quantity"), on: try record.date("date"))
            {
                throw rejection
            }
            changed[key] = ledger
        }
        return .commit(UnitOfWork(messageId: nil, documents: ledgers.writes(changed)))
    }

    /// A run's draft: take its state and lines, evaluate every window the run closes, once.
    private func evaluate(
        _ data: Fields, _ event: CloudEvent, _ ledgers: BatchDocuments<CommitmentLedger>
    ) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let runId = try data.string("run_id")
        let customer = try data.string("customer_id")
        var ledger = try await currentLedger(tenant, customer, ledgers)
        var contracts: [Contract] = []
        for item in try data.array("contracts") { contracts.append(try ContractEncoding.decodeContract(item)) }
        ledger.update(contracts: contracts, services: try CommitmentCoding.decodeSpans(try data.object("services")))
        ledger.record(
            try data.objects("lines").map { item throws(Rejection) in try CommitmentCoding.decodeCounted(item) })
        let outcomes = ledger.evaluateWindows(closingBy: try data.date("cutoff"))
        return .commit(
            UnitOfWork(
                messageId: nil, documents: ledgers.writes(["\(tenant)/\(customer)": ledger]),
                outbox: [
                    events.event(
                        "commitments.evaluated", tenantId: tenant, causationId: runId,
                        data: .object([
                            "run_id": .string(runId), "customer_id": .string(ledger.customerId),
                            "windows": .array(outcomes.map(CommitmentCoding.outcome)),
                        ]), time: now(), key: ledger.customerId)
                ]))
    }
}
