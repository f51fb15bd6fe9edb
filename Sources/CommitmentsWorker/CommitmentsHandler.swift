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

    public func handle(_ event: CloudEvent) async throws -> HandlerOutcome {
        do {
            let data = try Fields(event.data, path: "data")
            switch event.type {
            case "usage.rated": return try await recordUsage(data, event.tenantId)
            case "invoice.drafted": return try await evaluate(data, event)
            default: return .reject(Rejection(.unknownType, "commitments does not handle \(event.type)"))
            }
        } catch let rejection as Rejection {
            return .reject(rejection)
        }
    }

    private func ledger(_ tenant: String, _ customer: String) async throws -> (CommitmentLedger, Int64) {
        guard let (json, version) = try await store.jsonDocument(kind: "ledger", key: "\(tenant)/\(customer)") else {
            return (CommitmentLedger(customerId: customer), 0)
        }
        return (try CommitmentLedgerCoding.decode(json), version)
    }

    private func write(_ ledger: CommitmentLedger, _ tenant: String, version: Int64) -> DocumentWrite {
        DocumentWrite(
            kind: "ledger", key: "\(tenant)/\(ledger.customerId)", json: CommitmentLedgerCoding.encode(ledger),
            expectedVersion: version)
    }

    /// Usage of every service, by day: what usage commitments measure.
    private func recordUsage(_ data: Fields, _ tenant: String) async throws -> HandlerOutcome {
        var changed = DocumentChanges<CommitmentLedger>()
        for record in try data.objects("records") {
            let customer = try record.string("customer_id")
            var ledger = try await changed.value(customer) { try await self.ledger(tenant, customer) }
            if let rejection = ledger.recordUsage(
                serviceId: try record.string("service_id"), metric: try record.string("metric"),
                quantity: try record.decimal("quantity"), on: try record.date("date"))
            {
                throw rejection
            }
            changed.set(customer, ledger)
        }
        return .commit(
            UnitOfWork(
                messageId: nil, documents: changed.writes { ledger, version in write(ledger, tenant, version: version) }
            ))
    }

    /// A run's draft: take its state and lines, evaluate every window the run closes, once.
    private func evaluate(_ data: Fields, _ event: CloudEvent) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let runId = try data.string("run_id")
        var (ledger, version) = try await ledger(tenant, try data.string("customer_id"))
        var contracts: [Contract] = []
        for item in try data.array("contracts") { contracts.append(try ContractEncoding.decodeContract(item)) }
        ledger.update(contracts: contracts, services: try CommitmentCoding.decodeSpans(try data.object("services")))
        ledger.record(
            try data.objects("lines").map { item throws(Rejection) in try CommitmentCoding.decodeCounted(item) })
        let outcomes = ledger.evaluateWindows(closingBy: try data.date("cutoff"))
        return .commit(
            UnitOfWork(
                messageId: nil, documents: [write(ledger, tenant, version: version)],
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
