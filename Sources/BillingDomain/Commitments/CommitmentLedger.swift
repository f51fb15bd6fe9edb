/// What commitment evaluation knows of one customer: contracts with commitments, the customer's
/// services and their plans over time, usage by day, and the invoice lines already composed.
/// At each billing run it evaluates every window the run closes, once.
public struct CommitmentLedger: Sendable, Hashable {
    public let customerId: String
    public private(set) var contracts: [String: Contract] = [:]
    public private(set) var services: [String: [ServiceSpan]] = [:]
    public private(set) var usage: [UsageDay: Rational] = [:]
    public private(set) var lines: [CountedLine] = []
    /// Windows already evaluated, so a repeated run charges nothing twice.
    public private(set) var evaluated: Set<WindowKey> = []

    /// A stretch of time a service ran on one plan.
    public struct ServiceSpan: Sendable, Hashable {
        public let planId: String
        public let serviceType: String
        public let period: BillingPeriod

        public init(planId: String, serviceType: String, period: BillingPeriod) {
            self.planId = planId
            self.serviceType = serviceType
            self.period = period
        }
    }

    public struct UsageDay: Sendable, Hashable {
        public let serviceId: String
        public let metric: String
        public let date: CalendarDate

        public init(serviceId: String, metric: String, date: CalendarDate) {
            self.serviceId = serviceId
            self.metric = metric
            self.date = date
        }
    }

    /// An invoice line's amount and days, kept for `invoice_amount` actuals.
    public struct CountedLine: Sendable, Hashable {
        public let period: BillingPeriod
        public let amount: Money

        public init(period: BillingPeriod, amount: Money) {
            self.period = period
            self.amount = amount
        }
    }

    public struct WindowKey: Sendable, Hashable {
        public let contractId: String
        public let commitmentId: String
        public let window: Int

        public init(contractId: String, commitmentId: String, window: Int) {
            self.contractId = contractId
            self.commitmentId = commitmentId
            self.window = window
        }
    }

    public init(customerId: String) {
        self.customerId = customerId
    }

    /// A ledger as a store kept it.
    public init(
        customerId: String, contracts: [Contract], services: [String: [ServiceSpan]], usage: [UsageDay: Rational],
        lines: [CountedLine], evaluated: Set<WindowKey>
    ) {
        self.customerId = customerId
        self.contracts = Dictionary(contracts.map { ($0.id, $0) }) { _, later in later }
        self.services = services
        self.usage = usage
        self.lines = lines
        self.evaluated = evaluated
    }

    /// Takes the customer's contracts and service spans as invoicing knows them at a billing
    /// run: the latest state replaces what was known before.
    public mutating func update(contracts: [Contract], services: [String: [ServiceSpan]]) {
        for contract in contracts { self.contracts[contract.id] = contract }
        for (id, spans) in services { self.services[id] = spans.sorted { $0.period.start < $1.period.start } }
    }

    /// Adds a contract or replaces it with its later state (its end brought forward, say).
    public mutating func record(_ contract: Contract) {
        contracts[contract.id] = contract
    }

    /// Records that a service ran on a plan over a period (a plan change gives two spans; a
    /// service still running has its span end at its contract's end, or far in the future).
    public mutating func record(serviceId: String, span: ServiceSpan) {
        var spans = services[serviceId, default: []].filter { $0.period.start != span.period.start }
        spans.append(span)
        services[serviceId] = spans.sorted { $0.period.start < $1.period.start }
    }

    /// Adds usage of a day; the same `invalid_quantity` rules as invoicing.
    @discardableResult
    public mutating func recordUsage(
        serviceId: String, metric: String, quantity: Rational, on date: CalendarDate
    )
        -> Rejection?
    {
        let key = UsageDay(serviceId: serviceId, metric: metric, date: date)
        let total = (usage[key] ?? .zero) + quantity
        if let rejection = UsageMonth.checkQuantity(quantity, total: total) { return rejection }
        usage[key] = total
        return nil
    }

    /// Takes lines issued outside a billing run (a plan change's invoice) into the history.
    public mutating func recordComposed(_ issued: [InvoiceLine]) {
        lines += issued.filter(\.countsTowardCommitments).map { CountedLine(period: $0.period, amount: $0.amount) }
    }

    /// Takes the draft lines of a billing run with `cutoff` (the first day not covered) into
    /// the history and evaluates every window that the run closes and that was not evaluated
    /// before. Returns a `commitment_shortfall` line for each window missed.
    public mutating func evaluate(
        draft: [InvoiceLine], cutoff: CalendarDate
    ) throws(ArithmeticOverflow)
        -> [InvoiceLine]
    {
        recordComposed(draft)
        var lines: [InvoiceLine] = []
        for outcome in evaluateWindows(closingBy: cutoff) {
            if let line = try contracts[outcome.contractId]?.shortfallLine(outcome) { lines.append(line) }
        }
        return lines
    }

    /// Evaluates, once each, every window that closes by `cutoff` and was not evaluated
    /// before; the outcomes in contract, commitment and window order, met windows included.
    public mutating func evaluateWindows(closingBy cutoff: CalendarDate) -> [CommitmentOutcome] {
        var outcomes: [CommitmentOutcome] = []
        for contract in contracts.values.sorted(by: { ($0.start, $0.id) < ($1.start, $1.id) }) {
            for commitment in contract.terms.commitments {
                for window in contract.windows(of: commitment) where window.closesOn <= cutoff {
                    let key = WindowKey(contractId: contract.id, commitmentId: commitment.id, window: window.number)
                    guard evaluated.insert(key).inserted else { continue }
                    if let outcome = self.outcome(of: commitment, in: window, of: contract) {
                        outcomes.append(outcome)
                    }
                }
            }
        }
        return outcomes
    }

    /// Takes counted lines (amount and days) into the history.
    public mutating func record(_ counted: [CountedLine]) {
        lines += counted
    }

    /// Committed against actual for one window; `nil` when the measure has nothing to measure
    /// (an average over no active service).
    public func outcome(
        of commitment: Commitment, in window: CommitmentWindow, of contract: Contract
    )
        -> CommitmentOutcome?
    {
        actual(commitment.measure, in: window.days, currency: contract.currency).map { actual in
            CommitmentOutcome(
                commitmentId: commitment.id, contractId: contract.id, window: window, committed: window.committed,
                actual: actual, isMonetary: commitment.measure.isMonetary)
        }
    }

    /// What a measure adds up to over the days of a window; `nil` for an average over no
    /// active service.
    public func actual(_ measure: Commitment.Measure, in days: BillingPeriod, currency: Currency) -> Rational? {
        switch measure {
        case .service(let type):
            return Rational(activeServices { $0.serviceType == type && $0.period.intersection(days) != nil }.count)
        case .packageService(let plan, let type):
            return Rational(
                activeServices {
                    $0.planId == plan && (type == nil || $0.serviceType == type) && $0.period.intersection(days) != nil
                }.count)
        case .package(let plan):
            return Rational(activeServices { $0.planId == plan && $0.period.intersection(days) != nil }.count)
        case .usage(let metric):
            return usageTotal(metric: metric, in: days) { _ in true }
        case .invoiceAmount:
            let minorUnits = lines.lazy
                .filter { $0.amount.currency == currency && $0.period.intersection(days) != nil }
                .reduce(Int128(0)) { $0 + $1.amount.minorUnits }
            return Money(minorUnits: minorUnits, currency: currency).amount
        case .averageUsage(let metric, let serviceIds):
            let members = Set(serviceIds)
            let active = members.filter { id in services[id]?.contains { $0.period.intersection(days) != nil } ?? false
            }
            guard !active.isEmpty else { return nil }
            return usageTotal(metric: metric, in: days) { members.contains($0) } / active.count
        }
    }

    /// Ids of services with at least one span matching.
    private func activeServices(where matches: (ServiceSpan) -> Bool) -> [String] {
        services.filter { $0.value.contains(where: matches) }.map(\.key).sorted()
    }

    private func usageTotal(metric: String, in days: BillingPeriod, service: (String) -> Bool) -> Rational {
        usage.filter { $0.key.metric == metric && days.contains($0.key.date) && service($0.key.serviceId) }
            .values.sum()
    }

}

extension Contract {
    /// The penalty line for a missed window, or `nil` when the commitment was met (or the
    /// outcome names no commitment of this contract). A penalty too large to compute exactly is
    /// reported (``Commitment/penaltyAmount(shortfall:)``).
    public func shortfallLine(_ outcome: CommitmentOutcome) throws(ArithmeticOverflow) -> InvoiceLine? {
        guard outcome.shortfall > .zero,
            let commitment = terms.commitments.first(where: { $0.id == outcome.commitmentId })
        else { return nil }
        let penalty = try Money.checkedRounding(commitment.penaltyAmount(shortfall: outcome.shortfall), in: currency)
        return InvoiceLine(
            kind: .commitmentShortfall, serviceId: chargeToServiceId, contractId: id, period: outcome.window.days,
            description:
                "Commitment \(commitment.id) shortfall, window \(outcome.window.number), \(LineDescription.days(of: outcome.window.days))",
            grossAmount: penalty, commitment: outcome)
    }

    /// The outcome of window `number` of commitment `commitmentId` measured at `actual`, as
    /// the commitments worker reports it; `nil` when the contract has no such window.
    public func outcome(commitmentId: String, window number: Int, actual: Rational) -> CommitmentOutcome? {
        guard let commitment = terms.commitments.first(where: { $0.id == commitmentId }),
            let window = windows(of: commitment).first(where: { $0.number == number })
        else { return nil }
        return CommitmentOutcome(
            commitmentId: commitmentId, contractId: id, window: window, committed: window.committed, actual: actual,
            isMonetary: commitment.measure.isMonetary)
    }
}

extension CustomerLedger {
    /// A whole billing run as of `date` in one step: the draft, commitment evaluation of every
    /// window the run closes, and the invoices with their shortfall lines. (In the cluster the
    /// three steps are three messages between invoicing and commitments.)
    public mutating func runBilling(
        asOf date: CalendarDate, evaluating commitments: inout CommitmentLedger
    ) throws(ArithmeticOverflow)
        -> [Invoice]
    {
        let draft = draftRun(asOf: date)
        return issue(draft, adding: try commitments.evaluate(draft: draft.lines, cutoff: draft.cutoff))
    }

    /// A plan change's immediate invoice, its lines counted toward the customer's commitments.
    public mutating func invoicePlanChange(
        _ change: ContractPlanChange, evaluating commitments: inout CommitmentLedger
    )
        -> Result<[Invoice], Rejection>
    {
        invoicePlanChange(change).map { invoices in
            commitments.record(change.endedContract)
            commitments.record(change.newContract)
            commitments.recordComposed(invoices.flatMap(\.lines))
            return invoices
        }
    }
}
