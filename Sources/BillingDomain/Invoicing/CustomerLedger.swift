/// Everything invoicing knows of one customer, and what it has billed: the state machine a
/// billing run advances. Given the same history it issues the same invoices; a run repeated
/// issues nothing new, because every contract day and every usage quantity is marked billed
/// the moment a line for it is composed.
public struct CustomerLedger: Sendable, Hashable {
    public let customerId: String
    /// Contracts by id, with the first day not yet invoiced.
    public private(set) var contracts: [String: ContractAccount] = [:]
    public private(set) var usage: [UsageMonth.Key: UsageMonth] = [:]
    /// Early-termination fees waiting for the next invoice.
    public private(set) var pendingFees: [EarlyTerminationFee] = []
    /// The end of the last month a billing run covered: usage of months before it is late.
    public private(set) var coveredThrough: CalendarDate?
    /// Invoices issued per currency and date, for the id of a second one that day.
    private var issuedCount: [IssueKey: Int] = [:]

    private struct IssueKey: Hashable {
        let currency: Currency
        let date: CalendarDate
    }

    public struct ContractAccount: Sendable, Hashable {
        public internal(set) var contract: Contract
        /// The first day of the contract not yet on an invoice.
        public internal(set) var billedThrough: CalendarDate

        public init(contract: Contract, billedThrough: CalendarDate) {
            self.contract = contract
            self.billedThrough = billedThrough
        }
    }

    public init(customerId: String) {
        self.customerId = customerId
    }

    /// Adds a contract, or replaces one with its later state (ended early, say); what is
    /// already billed of it stays billed.
    public mutating func record(_ contract: Contract) {
        precondition(contract.customerId == customerId, "contract of another customer")
        if contracts[contract.id] != nil {
            contracts[contract.id]!.contract = contract
        } else {
            contracts[contract.id] = ContractAccount(contract: contract, billedThrough: contract.start)
        }
    }

    /// A rejection when a contract may no longer end on `date` because days from it on are
    /// already invoiced (`period_already_invoiced`); `nil` when it may.
    public func checkEnding(contractId: String, on date: CalendarDate) -> Rejection? {
        guard let account = contracts[contractId], date < account.billedThrough else { return nil }
        return Rejection(
            .periodAlreadyInvoiced,
            "contract \(contractId) is invoiced through \(account.billedThrough.adding(days: -1)); it cannot end on \(date)",
            details: ["invoiced_through": account.billedThrough.description])
    }

    /// Adds rated usage of a PAYG service to its month; an `invalid_quantity` rejection (and
    /// no change) when the quantity is negative, finer than 6 decimals, or would take the
    /// month's total past 10^12.
    @discardableResult
    public mutating func recordUsage(
        serviceId: String, metric: String, quantity: Rational, on date: CalendarDate,
        price: UsagePrice, currency: Currency
    ) -> Rejection? {
        let key = UsageMonth.Key(serviceId: serviceId, metric: metric, month: date)
        let total = (usage[key]?.quantity ?? .zero) + quantity
        if let rejection = UsageMonth.checkQuantity(quantity, total: total) { return rejection }
        usage[key, default: UsageMonth(price: price, currency: currency)].quantity = total
        return nil
    }

    /// Queues an early-termination fee for the first run on or after the day it arises.
    public mutating func add(_ fee: EarlyTerminationFee) {
        guard !pendingFees.contains(fee) else { return }
        pendingFees.append(fee)
    }

    /// The billing run as of `date`: one invoice per currency, dated `date`, covering every
    /// calendar month that ended on or before `date` and is not yet invoiced, plus late usage
    /// and the early-termination fees due by then. No lines, no invoice.
    public mutating func runBilling(asOf date: CalendarDate) -> [Invoice] {
        issue(draftRun(asOf: date))
    }

    /// The lines of the billing run as of `date`, marked billed, before commitment evaluation
    /// adds its penalty lines and ``issue(_:adding:)`` makes them invoices.
    public mutating func draftRun(asOf date: CalendarDate) -> InvoiceDraft {
        let cutoff = date.startOfMonth
        var lines: [InvoiceLine] = []
        for id in contractIdsInOrder {
            lines += billContract(id, through: cutoff)
        }
        // Only the months with something to bill are sorted (the ledger keeps every month).
        // (By index: the months are read in place, not copied out as the elements go by.)
        let unbilled = usage.indices.compactMap { index in
            let key = usage.keys[index]
            return key.month.startOfNextMonth <= cutoff && usage.values[index].hasUnbilledUsage ? key : nil
        }
        lines += unbilled.sorted().map { billUsage($0) }
        let due = pendingFees.filter { $0.date <= date }
        pendingFees.removeAll { $0.date <= date }
        lines += due.map { fee in
            InvoiceLine(
                kind: .earlyTermination, serviceId: fee.serviceId, contractId: fee.contractId,
                period: fee.period,
                description: "Early termination, \(LineDescription.days(of: fee.period))",
                grossAmount: fee.amount)
        }
        coveredThrough = CalendarDate.max(coveredThrough ?? cutoff, cutoff)
        return InvoiceDraft(issueDate: date, cutoff: cutoff, lines: lines)
    }

    /// Issues a draft, with any further lines (commitment shortfalls), as one invoice per
    /// currency in currency-code order.
    public mutating func issue(_ draft: InvoiceDraft, adding extra: [InvoiceLine] = []) -> [Invoice] {
        issue(draft.lines + extra, on: draft.issueDate)
    }

    /// Records a plan change and issues at once the invoice dated the change date for the old
    /// contract's days not yet invoiced, up to that date. The new contract's first month is
    /// billed by the next regular run. A change dated inside days already invoiced is
    /// `period_already_invoiced` (those invoices are final) and changes nothing.
    public mutating func invoicePlanChange(_ change: ContractPlanChange) -> Result<[Invoice], Rejection> {
        if let rejection = checkEnding(contractId: change.endedContract.id, on: change.effectiveDate) {
            return .failure(rejection)
        }
        record(change.endedContract)
        record(change.newContract)
        let lines = billContract(change.endedContract.id, through: change.effectiveDate)
        return .success(issue(lines, on: change.effectiveDate))
    }

    private var contractIdsInOrder: [String] {
        // Sorted by small tuples, not by the contracts themselves (large values to move).
        contracts.values.map { ($0.contract.serviceId, $0.contract.start, $0.contract.id) }.sorted(by: <).map(\.2)
    }

    /// Lines for a contract's days from its first unbilled day up to `cutoff`, marked billed.
    private mutating func billContract(_ id: String, through cutoff: CalendarDate) -> [InvoiceLine] {
        guard let index = contracts.index(forKey: id) else { return [] }
        let start = contracts.values[index].billedThrough
        let end = CalendarDate.min(contracts.values[index].contract.end, cutoff)
        guard start < end else { return [] }
        contracts.values[index].billedThrough = end
        return contracts.values[index].contract.recurringLines(within: BillingPeriod(start: start, end: end))
    }

    /// The line for a usage month with unbilled usage: its whole price the first time, then
    /// (late usage) the price of the new total less what was billed before.
    private mutating func billUsage(_ key: UsageMonth.Key) -> InvoiceLine {
        let month = usage[key]!
        let billedQuantity = month.billedQuantity ?? .zero
        let period = BillingPeriod.month(of: key.month)
        let late = month.billedQuantity != nil || (coveredThrough.map { period.end <= $0 } ?? false)
        let due = month.amountDue
        let amount = Money(
            minorUnits: due.minorUnits - (month.billedAmount?.minorUnits ?? 0), currency: month.currency)
        usage[key]!.billedQuantity = month.quantity
        usage[key]!.billedAmount = due
        let monthName = LineDescription.month(of: key.month)
        return InvoiceLine(
            kind: .usage, serviceId: key.serviceId, contractId: nil, period: period,
            description: late ? "\(key.metric) late usage, \(monthName)" : "\(key.metric) usage, \(monthName)",
            grossAmount: amount, metric: key.metric, quantity: month.quantity - billedQuantity,
            late: late)
    }

    private mutating func issue(_ lines: [InvoiceLine], on date: CalendarDate) -> [Invoice] {
        let byCurrency = Dictionary(grouping: lines, by: \.currency)
        return byCurrency.keys.sorted { $0.code < $1.code }.map { currency in
            let key = IssueKey(currency: currency, date: date)
            issuedCount[key, default: 0] += 1
            let id = Invoice.id(
                customerId: customerId, currency: currency, issueDate: date, sequence: issuedCount[key]!)
            // Every line was grouped under its own currency: no mismatch is possible.
            return try! Invoice(
                id: id, customerId: customerId, currency: currency, issueDate: date,
                lines: byCurrency[currency]!)
        }
    }
}

/// The lines of a billing run before they become invoices.
public struct InvoiceDraft: Sendable, Hashable {
    public let issueDate: CalendarDate
    /// The first day the run does not cover: the first of the issue date's month.
    public let cutoff: CalendarDate
    public let lines: [InvoiceLine]

    public init(issueDate: CalendarDate, cutoff: CalendarDate, lines: [InvoiceLine]) {
        self.issueDate = issueDate
        self.cutoff = cutoff
        self.lines = lines
    }
}

extension CustomerLedger {
    /// Everything a ledger holds, for a store to keep and give back.
    public struct Snapshot: Sendable, Hashable {
        public var customerId: String
        public var contracts: [ContractAccount]
        public var usage: [UsageMonth.Key: UsageMonth]
        public var pendingFees: [EarlyTerminationFee]
        public var coveredThrough: CalendarDate?
        /// Invoices issued per currency and date.
        public var issued: [IssuedCount]

        public init(
            customerId: String, contracts: [ContractAccount], usage: [UsageMonth.Key: UsageMonth],
            pendingFees: [EarlyTerminationFee], coveredThrough: CalendarDate?, issued: [IssuedCount]
        ) {
            self.customerId = customerId
            self.contracts = contracts
            self.usage = usage
            self.pendingFees = pendingFees
            self.coveredThrough = coveredThrough
            self.issued = issued
        }
    }

    public struct IssuedCount: Sendable, Hashable {
        public var currency: Currency
        public var date: CalendarDate
        public var count: Int

        public init(currency: Currency, date: CalendarDate, count: Int) {
            self.currency = currency
            self.date = date
            self.count = count
        }
    }

    public var snapshot: Snapshot {
        Snapshot(
            customerId: customerId, contracts: contracts.values.sorted { $0.contract.id < $1.contract.id },
            usage: usage,
            pendingFees: pendingFees, coveredThrough: coveredThrough,
            issued: issuedCount.map { IssuedCount(currency: $0.key.currency, date: $0.key.date, count: $0.value) }
                .sorted { ($0.date, $0.currency.code) < ($1.date, $1.currency.code) })
    }

    public init(snapshot: Snapshot) {
        self.customerId = snapshot.customerId
        self.contracts = Dictionary(uniqueKeysWithValues: snapshot.contracts.map { ($0.contract.id, $0) })
        self.usage = snapshot.usage
        self.pendingFees = snapshot.pendingFees
        self.coveredThrough = snapshot.coveredThrough
        self.issuedCount = Dictionary(
            uniqueKeysWithValues: snapshot.issued.map { (IssueKey(currency: $0.currency, date: $0.date), $0.count) })
    }
}
