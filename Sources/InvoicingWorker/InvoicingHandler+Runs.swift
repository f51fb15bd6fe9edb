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
    func closePeriod(
        _ closed: BillingPeriodClosed, _ event: CloudEvent, _ documents: Documents
    ) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let (runId, customers, asOf) = (closed.runId, closed.customers, closed.asOf)
        var account = try await documents.account(tenant, closed.customerId)
        if let pending = account.pending {
            if pending.runId == runId { return .commit(UnitOfWork(messageId: nil)) }
            return .retryLater("the customer's run \(pending.runId) waits for commitment evaluation")
        }
        for service in closed.services {
            let applied = account.revisions[service.serviceId] ?? 0
            guard applied >= service.previousRevision else {
                return .retryLater("service \(service.serviceId) revision \(service.previousRevision) not applied yet")
            }
            guard applied < service.revision else { continue }
            for contract in try service.contracts() { account.ledger.record(contract) }
            account.revisions[service.serviceId] = service.revision
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
        let drafted = InvoiceDrafted(
            runId: runId, asOf: asOf, customerId: account.ledger.customerId, cutoff: draft.cutoff,
            contracts: contracts, services: spans, lines: counted)
        unit.outbox.append(
            events.event(
                InvoiceDrafted.type, tenantId: tenant, causationId: runId, data: drafted.data, time: now(),
                key: account.ledger.customerId))
        return .commit(unit)
    }

    /// The commitments worker evaluated the draft: issue it with the shortfall lines.
    func finishRun(
        _ evaluated: CommitmentsEvaluated, _ event: CloudEvent, _ documents: Documents
    ) async throws -> HandlerOutcome {
        let tenant = event.tenantId
        let runId = evaluated.runId
        var account = try await documents.account(tenant, evaluated.customerId)
        guard let pending = account.pending, pending.runId == runId else { return .commit(UnitOfWork(messageId: nil)) }
        var shortfalls: [InvoiceLine] = []
        for (index, window) in evaluated.windows.enumerated() {
            guard let contract = account.ledger.contracts[window.contractId]?.contract,
                let outcome = contract.outcome(
                    commitmentId: window.commitmentId, window: window.window, actual: window.actual)
            else {
                throw Rejection(.invalidMessage, "data.windows[\(index)] names no window of the customer's contracts")
            }
            do {
                if let line = try contract.shortfallLine(outcome) { shortfalls.append(line) }
            } catch {
                throw Rejection(
                    .invalidMessage, "the penalty of data.windows[\(index)] cannot be computed: \(error)",
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
        let final = try await announce(invoices, tenant: tenant, causation: runId, documents: documents, into: &unit)
        let stored = try await documents.runs.value(runKey)
        // A stored document that cannot be read is a fault, never the message's: not a rejection.
        // `done` was an object of every customer's invoice ids before it became a count; a run
        // begun before that change keeps the ids it has there.
        var earlier: [String: JSONValue] = [:]
        let done: Int
        switch stored?["done"] {
        case nil: done = 0
        case .number(let text)?:
            guard let count = Int(text) else { throw StoreError.corrupt("run", runKey, "an unreadable count") }
            done = count
        case .object(let members)?:
            earlier = Dictionary(uniqueKeysWithValues: members.map { ("\(runKey)/\($0.key)", $0.value) })
            done = members.count
        default: throw StoreError.corrupt("run", runKey, "an unreadable count")
        }
        let ids: JSONValue = .array(final.map { .string($0.id) })
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
                guard let ids = document["invoice_ids"] else { throw StoreError.corrupt("run-customer", key) }
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
