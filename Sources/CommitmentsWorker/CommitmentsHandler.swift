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
    public static let subscribedEvents = [UsageRated.type, InvoiceDrafted.type]

    /// Rated usage and drafts are taken in batches: the batch's ledgers are read at once, and
    /// each message works on the ledger as the messages before it left it. (A billing run's
    /// drafts, one transaction each, had made commitments commit once per customer with a
    /// commitment.)
    public var batchableTypes: Set<String> { [UsageRated.type, InvoiceDrafted.type] }

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
            switch event.type {
            case UsageRated.type: return try await recordUsage(UsageRated(decoding: event), event.tenantId, ledgers)
            case InvoiceDrafted.type: return try await evaluate(InvoiceDrafted(decoding: event), event, ledgers)
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
        _ rated: UsageRated, _ tenant: String, _ ledgers: BatchDocuments<CommitmentLedger>
    ) async throws -> HandlerOutcome {
        var changed: [String: CommitmentLedger] = [:]
        for record in rated.records {
            let customer = record.customerId
            let key = "\(tenant)/\(customer)"
            var ledger = try await changed[key].asyncOr { try await currentLedger(tenant, customer, ledgers) }
            if let rejection = ledger.recordUsage(
                serviceId: record.serviceId, metric: record.metric, quantity: record.quantity, on: record.date)
            {
                throw rejection
            }
            changed[key] = ledger
        }
        return .commit(UnitOfWork(messageId: nil, documents: ledgers.writes(changed)))
    }

    /// A run's draft: take its state and lines, evaluate every window the run closes, once.
    private func evaluate(
        _ draft: InvoiceDrafted, _ event: CloudEvent, _ ledgers: BatchDocuments<CommitmentLedger>
    ) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let customer = draft.customerId
        var ledger = try await currentLedger(tenant, customer, ledgers)
        ledger.update(contracts: draft.contracts, services: draft.services)
        ledger.record(draft.lines)
        let evaluated = CommitmentsEvaluated(
            runId: draft.runId, customerId: ledger.customerId,
            windows: ledger.evaluateWindows(closingBy: draft.cutoff).map(CommitmentsEvaluated.Window.init))
        return .commit(
            UnitOfWork(
                messageId: nil, documents: ledgers.writes(["\(tenant)/\(customer)": ledger]),
                outbox: [
                    events.event(
                        CommitmentsEvaluated.type, tenantId: tenant, causationId: draft.runId, data: evaluated.data,
                        time: now(), key: ledger.customerId)
                ]))
    }
}
