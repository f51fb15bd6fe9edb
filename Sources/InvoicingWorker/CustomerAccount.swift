import BillingDomain
import CovenantMessages

/// What invoicing keeps of one customer, as one versioned document: the ledger, the
/// provisioning revision applied for each service (events of a service apply in revision
/// order), the plan spans of PAYG services, lines issued outside billing runs that commitment
/// evaluation has not seen yet, and a billing run waiting for that evaluation.
struct CustomerAccount {
    typealias Span = CommitmentLedger.ServiceSpan

    var ledger: CustomerLedger
    var revisions: [String: Int64] = [:]
    var paygSpans: [String: [Span]] = [:]
    var composed: [CommitmentLedger.CountedLine] = []
    var pending: PendingRun?

    /// A billing run's draft waiting for the commitments worker.
    struct PendingRun {
        var runId: String
        var customers: Int
        var draft: InvoiceDraft
    }

    init(customerId: String) {
        ledger = CustomerLedger(customerId: customerId)
    }

    /// How an event of `serviceId` with `revision` fits: applied already, next in order, or
    /// early (an earlier change has not arrived yet).
    enum Order { case applied, next, early }

    func order(serviceId: String, revision: Int64) -> Order {
        let applied = revisions[serviceId] ?? 0
        if revision <= applied { return .applied }
        return revision == applied + 1 ? .next : .early
    }

    /// The plan a PAYG service ran on a day; nil outside its life, or when it is not known yet.
    func paygPlan(serviceId: String, on date: CalendarDate) -> String? {
        paygSpans[serviceId]?.last { $0.period.start <= date && date < $0.period.end }?.planId
    }

    /// A PAYG service moves to another plan from `date` (or ends on `date` when `plan` is nil).
    mutating func changePayg(serviceId: String, from date: CalendarDate, to plan: Span?) {
        var spans = (paygSpans[serviceId] ?? []).filter { $0.period.start < date }
        if let last = spans.last, last.period.end > date {
            spans[spans.count - 1] = Span(
                planId: last.planId, serviceType: last.serviceType,
                period: BillingPeriod(start: last.period.start, end: date))
        }
        if let plan { spans.append(plan) }
        paygSpans[serviceId] = spans
    }

    static let openEnd = CalendarDate(year: 9999, month: 12, day: 31)!

    // MARK: Coding

    var json: JSONValue {
        var fields: JSONObject = [
            "ledger": LedgerCoding.encode(ledger),
            "revisions": .object(JSONObject(revisions.mapValues { .number(String($0)) })),
            "payg_spans": CommitmentCoding.spans(paygSpans),
            "composed": .array(composed.map(CommitmentCoding.counted)),
        ]
        if let pending {
            fields["pending"] = .object([
                "run_id": .string(pending.runId), "customers": .number(String(pending.customers)),
                "issue_date": .string(pending.draft.issueDate.description),
                "cutoff": .string(pending.draft.cutoff.description),
                "lines": .array(pending.draft.lines.map(LineCoding.encode)),
            ])
        }
        return .object(fields)
    }

    init(json: JSONValue) throws(Rejection) {
        let fields = try Fields(json, path: "account")
        ledger = try LedgerCoding.decode(fields.members["ledger"] ?? .null)
        for (id, value) in try fields.object("revisions").members {
            guard case .number(let text) = value, let revision = Int64(text) else {
                throw Rejection(.invalidMessage, "account.revisions.\(id) is not a number")
            }
            revisions[id] = revision
        }
        paygSpans = try CommitmentCoding.decodeSpans(try fields.object("payg_spans"))
        composed = try fields.objects("composed").map { item throws(Rejection) in
            try CommitmentCoding.decodeCounted(item)
        }
        if let pending = try fields.optionalObject("pending") {
            self.pending = PendingRun(
                runId: try pending.string("run_id"), customers: try pending.int("customers", in: 1...Int(Int32.max)),
                draft: InvoiceDraft(
                    issueDate: try pending.date("issue_date"), cutoff: try pending.date("cutoff"),
                    lines: try pending.objects("lines").map { item throws(Rejection) in try LineCoding.decode(item) }))
        }
    }
}

/// Invoice lines kept while a run waits for commitment evaluation: every figure exact.
enum LineCoding {
    static func encode(_ line: InvoiceLine) -> JSONValue {
        var fields: JSONObject = [
            "type": .string(line.kind.rawValue), "service_id": .string(line.serviceId),
            "start": .string(line.period.start.description), "end": .string(line.period.end.description),
            "description": .string(line.description), "currency": .string(line.currency.code),
            "gross_amount": .money(line.grossAmount), "discount_amount": .money(line.discountAmount),
        ]
        if let contractId = line.contractId { fields["contract_id"] = .string(contractId) }
        if let metric = line.metric { fields["metric"] = .string(metric) }
        if let quantity = line.quantity { fields["quantity"] = .string(quantity.exactText) }
        if line.late { fields["late"] = .bool(true) }
        return .object(fields)
    }

    /// Reads a line of kind recurring, usage or early termination (shortfall lines are made
    /// when a run is finalised, never kept).
    static func decode(_ item: Fields) throws(Rejection) -> InvoiceLine {
        let currency = try item.currency("currency")
        var quantity: Rational?
        if let text = try item.optionalString("quantity") {
            guard let value = Rational(exactText: text) else {
                throw Rejection(.invalidMessage, "\(item.path).quantity is not exact")
            }
            quantity = value
        }
        return InvoiceLine(
            kind: try item.choice("type", of: InvoiceLine.Kind.self), serviceId: try item.string("service_id"),
            contractId: try item.optionalString("contract_id"),
            period: BillingPeriod(start: try item.date("start"), end: try item.date("end")),
            description: try item.string("description"), grossAmount: try item.money("gross_amount", in: currency),
            discountAmount: try item.money("discount_amount", in: currency), metric: try item.optionalString("metric"),
            quantity: quantity, late: item.has("late") ? try item.bool("late") : false)
    }

}
