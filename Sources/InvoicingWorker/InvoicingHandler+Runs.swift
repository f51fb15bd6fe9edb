import BillingDomain
import CovenantMessages
import Logging
import WorkerRuntime
import WorkerStores

/// Invoicing's part of a billing run: drafts, commitment results, invoices issued, the run completed.
extension InvoicingHandler {
    // MARK: Billing runs

    /// Provisioning closed the customer's period: apply the services' state it carries (once
    /// every earlier change of them is applied), draft the run, and either issue it or send it
    /// to commitment evaluation.
    func closePeriod(_ data: Fields, _ event: CloudEvent, _ documents: Documents) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let runId = try data.string("run_id")
        let customers = try data.int("customers", in: 1...Int(Int32.max))
        let asOf = try data.date("as_of")
        var account = try await documents.account(tenant, try data.string("customer_id"))
        if let pending = account.pending {
            if pending.runId == runId { return .commit(UnitOfWork(messageId: nil)) }
            return .retryLater("the customer's run \(pending.runId) waits for commitment evaluation")
        }
        for service in try data.objects("services") {
            let serviceId = try service.string("service_id")
            let revision = Int64(try service.int("revision", in: 0...Int(Int32.max)))
            let previous = Int64(try service.int("previous_revision", in: 0...Int(Int32.max)))
            let applied = account.revisions[serviceId] ?? 0
            guard applied >= previous else {
                return .retryLater("service \(serviceId) revision \(previous) not applied yet")
            }
            guard applied < revision else { continue }
            for contract in try service.array("contracts") {
                account.ledger.record(try ContractEncoding.decodeContract(contract))
            }
            account.revisions[serviceId] = revision
        }
        let draft = account.ledger.draftRun(asOf: asOf)
        let contracts = account.ledger.contracts.values.map(\.contract).sorted { $0.id < $1.id }
        guard contracts.contains(where: { !$0.terms.commitments.isEmpty }) else {
            let invoices = account.ledger.issue(draft)
            return .commit(
                try await finish(
                    runId: runId, asOf: asOf, customers: customers, invoices: invoices, account: account,
                    documents: documents, event: event))
        }
        // The draft goes to commitments with what they measure: contracts, service spans, lines.
        var spans = account.paygSpans
        for contract in contracts {
            guard let plan = try await documents.plan(tenant, contract.planId) else {
                return .retryLater("plan \(contract.planId) not known yet")
            }
            spans[contract.serviceId, default: []].append(
                .init(planId: contract.planId, serviceType: plan.serviceType, period: contract.billedPeriod))
        }
        let counted =
            account.composed
            + draft.lines.filter(\.countsTowardCommitments).map {
                CommitmentLedger.CountedLine(period: $0.period, amount: $0.amount)
            }
        account.composed = []
        account.pending = .init(runId: runId, customers: customers, draft: draft)
        var unit = UnitOfWork(messageId: nil, documents: documents.write([account], tenant))
        unit.outbox.append(
            events.event(
                "invoice.drafted", tenantId: tenant, causationId: runId,
                data: .object([
                    "run_id": .string(runId), "as_of": .string(asOf.description),
                    "customer_id": .string(account.ledger.customerId), "cutoff": .string(draft.cutoff.description),
                    "contracts": .array(contracts.map(ContractEncoding.contract)),
                    "services": CommitmentCoding.spans(spans),
                    "lines": .array(counted.map(CommitmentCoding.counted)),
                ]), time: now(), key: account.ledger.customerId))
        return .commit(unit)
    }

    /// The commitments worker evaluated the draft: issue it with the shortfall lines.
    func finishRun(_ data: Fields, _ event: CloudEvent, _ documents: Documents) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let runId = try data.string("run_id")
        var account = try await documents.account(tenant, try data.string("customer_id"))
        guard let pending = account.pending, pending.runId == runId else { return .commit(UnitOfWork(messageId: nil)) }
        var shortfalls: [InvoiceLine] = []
        for window in try data.objects("windows") {
            let contractId = try window.string("contract_id")
            guard let contract = account.ledger.contracts[contractId]?.contract,
                let actual = Rational(exactText: try window.string("actual")),
                let outcome = contract.outcome(
                    commitmentId: try window.string("commitment_id"),
                    window: try window.int("window", in: 1...10_000), actual: actual)
            else { throw Rejection(.invalidMessage, "\(window.path) names no window of the customer's contracts") }
            do {
                if let line = try contract.shortfallLine(outcome) { shortfalls.append(line) }
            } catch {
                throw Rejection(
                    .invalidMessage, "the penalty of \(window.path) cannot be computed: \(error)",
                    details: ["reason": "arithmetic_overflow"])
            }
        }
        account.pending = nil
        let invoices = account.ledger.issue(pending.draft, adding: shortfalls)
        return .commit(
            try await finish(
                runId: runId, asOf: pending.draft.issueDate, customers: pending.customers, invoices: invoices,
                account: account, documents: documents, event: event))
    }

    /// Stores the customer's invoices of a run and counts the customer done; the last customer
    /// of the run completes it.
    func finish(
        runId: String, asOf: CalendarDate, customers: Int, invoices: [Invoice], account: CustomerAccount,
        documents: Documents, event: CloudEvent
    ) async throws -> UnitOfWork {
        let tenant = event.tenantId
        // The run counts customers in a small document; each customer's invoice ids are a
        // document of their own, read back once, by the last customer (so a run of n customers
        // costs O(n), not a growing document rewritten n times).
        let runKey = Documents.runKey(tenant, runId)
        let customerKey = Documents.runCustomerKey(tenant, runId, account.ledger.customerId)
        if try await documents.runCustomers.value(customerKey) != nil {
            // This customer already finished this run (a replayed message): nothing to do.
            return UnitOfWork(messageId: nil)
        }
        var unit = UnitOfWork(messageId: nil, documents: documents.write([account], tenant))
        announce(invoices, tenant: tenant, causation: runId, into: &unit)
        let stored = try await documents.runs.value(runKey)
        // A stored document that cannot be read is a fault, never the message's: not a rejection.
        // `done` was an object of every customer's invoice ids before it became a count; a run
        // begun before that change keeps the ids it has there.
        var earlier: [String: JSONValue] = [:]
        let done: Int
        switch stored?["done"] {
        case nil: done = 0
        case .number(let text)?:
            guard let count = Int(text) else { throw StoreError("run \(runKey) has an unreadable count") }
            done = count
        case .object(let members)?:
            earlier = Dictionary(uniqueKeysWithValues: members.map { ("\(runKey)/\($0.key)", $0.value) })
            done = members.count
        default: throw StoreError("run \(runKey) has an unreadable count")
        }
        let ids: JSONValue = .array(invoices.map { .string($0.id) })
        unit.documents += documents.runs.writes([
            runKey: .object([
                "as_of": .string(asOf.description), "customers": .number(String(customers)),
                "done": .number(String(done + 1)),
            ])
        ])
        // A fresh document: a customer counted twice would be a version conflict.
        unit.documents += documents.runCustomers.writes([customerKey: .object(["invoice_ids": ids])])
        if done + 1 == customers {
            var byCustomer = earlier
            for (key, document) in try await documents.runCustomers.values(keyPrefix: "\(runKey)/") {
                guard let ids = document["invoice_ids"] else { throw StoreError("run-customer \(key) is unreadable") }
                byCustomer[key] = ids
            }
            let invoiceIds = byCustomer.keys.sorted().flatMap { key -> [String] in
                guard case .array(let ids) = byCustomer[key] else { return [] }
                return ids.compactMap { if case .string(let id) = $0 { id } else { nil } }
            }
            unit.outbox.append(
                events.event(
                    "billing.run.completed", tenantId: tenant, causationId: runId,
                    data: EventPayloads.billingRunCompleted(asOf: asOf, invoiceIds: invoiceIds), time: now()))
        }
        return unit
    }
}
