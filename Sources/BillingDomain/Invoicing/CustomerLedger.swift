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
    /// Invoices issued per date and currency, for the id of a second one that day; in date,
    /// then currency-code order. Runs issue in date order, so a new count almost always goes
    /// at the end: cheaper than a dictionary that rehashes as a year of runs adds dates.
    private var issued: [IssuedCount] = []

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
        let index = usage.index(forKey: key)
        let total = (index.map { usage.values[$0].quantity } ?? .zero) + quantity
        if let rejection = UsageMonth.checkQuantity(quantity, total: total) { return rejection }
        if let index {
            usage.values[index].quantity = total
        } else {
            usage[key] = UsageMonth(price: price, currency: currency, quantity: total)
        }
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
        // Only the months with something to bill are sorted (the ledger keeps every month).
        // (A list of the unbilled months kept beside them measured slower than this scan: each
        // month it names is found again by hashing its key.)
        var unbilled: [Dictionary<UsageMonth.Key, UsageMonth>.Index] = []
        for index in usage.indices where usage.keys[index].month < cutoff && usage.values[index].hasUnbilledUsage {
            unbilled.append(index)
        }
        unbilled.sort { usage.keys[$0] < usage.keys[$1] }
        // Room for a month of each contract and every line after: grown one append at a time,
        // the lines were copied to a new buffer three times a run.
        var lines: [InvoiceLine] = []
        lines.reserveCapacity(contracts.count + unbilled.count + pendingFees.count)
        for index in contractIndicesInOrder {
            billContract(at: index, through: cutoff, into: &lines)
        }
        for index in unbilled {
            lines.append(billUsage(at: index))
        }
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
        // (`+` with nothing to add would still copy every line.)
        issue(extra.isEmpty ? draft.lines : draft.lines + extra, on: draft.issueDate)
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
        var lines: [InvoiceLine] = []
        if let index = contracts.index(forKey: change.endedContract.id) {
            billContract(at: index, through: change.effectiveDate, into: &lines)
        }
        return .success(issue(lines, on: change.effectiveDate))
    }

    /// The contracts by service, start and id; by index, so no contract is moved to sort them.
    private var contractIndicesInOrder: [Dictionary<String, ContractAccount>.Index] {
        var indices = Array(contracts.indices)
        if indices.count > 1 {
            indices.sort { orderKey(at: $0) < orderKey(at: $1) }
        }
        return indices
    }

    private func orderKey(at index: Dictionary<String, ContractAccount>.Index) -> (String, CalendarDate, String) {
        (contracts.values[index].contract.serviceId, contracts.values[index].contract.start, contracts.keys[index])
    }

    /// Lines for a contract's days from its first unbilled day up to `cutoff`, marked billed.
    private mutating func billContract(
        at index: Dictionary<String, ContractAccount>.Index, through cutoff: CalendarDate,
        into lines: inout [InvoiceLine]
    ) {
        let start = contracts.values[index].billedThrough
        let end = CalendarDate.min(contracts.values[index].contract.end, cutoff)
        guard start < end else { return }
        contracts.values[index].billedThrough = end
        contracts.values[index].contract.appendRecurringLines(within: BillingPeriod(start: start, end: end), to: &lines)
    }

    /// The line for a usage month with unbilled usage: its whole price the first time, then
    /// (late usage) the price of the new total less what was billed before. By index: the month
    /// is read and marked billed in place, not hashed again.
    private mutating func billUsage(at index: Dictionary<UsageMonth.Key, UsageMonth>.Index) -> InvoiceLine {
        let key = usage.keys[index]
        let month = usage.values[index]
        let billedQuantity = month.billedQuantity ?? .zero
        let period = BillingPeriod.month(of: key.month)
        let late = month.billedQuantity != nil || (coveredThrough.map { period.end <= $0 } ?? false)
        let due = month.amountDue
        let amount = Money(
            minorUnits: due.minorUnits - (month.billedAmount?.minorUnits ?? 0), currency: month.currency)
        usage.values[index].billedQuantity = month.quantity
        usage.values[index].billedAmount = due
        return InvoiceLine(
            kind: .usage, serviceId: key.serviceId, contractId: nil, period: period,
            description: LineDescription.usage(metric: key.metric, month: key.month, late: late),
            grossAmount: amount, metric: key.metric, quantity: month.quantity - billedQuantity,
            late: late)
    }

    private mutating func issue(_ lines: [InvoiceLine], on date: CalendarDate) -> [Invoice] {
        guard let first = lines.first?.currency else { return [] }
        // Most customers are billed in one currency: their lines need no grouping.
        // (By index: a closure over the lines copied each one, strings and all, to read it.)
        if lines.indices.allSatisfy({ lines[$0].currency == first }) {
            return [issue(lines, in: first, on: date)]
        }
        return Dictionary(grouping: lines, by: \.currency).sorted { Currency.byCode($0.key, $1.key) }.map {
            issue($0.value, in: $0.key, on: date)
        }
    }

    /// The invoice of lines all in `currency`, numbered after those already issued that day.
    private mutating func issue(_ lines: [InvoiceLine], in currency: Currency, on date: CalendarDate) -> Invoice {
        let sequence = countIssue(currency: currency, date: date)
        let id = Invoice.id(customerId: customerId, currency: currency, issueDate: date, sequence: sequence)
        // Every line is in `currency`: no mismatch is possible.
        return try! Invoice(id: id, customerId: customerId, currency: currency, issueDate: date, lines: lines)
    }

    /// Counts one more invoice of `currency` issued on `date`, and returns its number that day.
    private mutating func countIssue(currency: Currency, date: CalendarDate) -> Int {
        let new = IssuedCount(currency: currency, date: date, count: 1)
        // From the end: where the new count goes, or the one already there for the day.
        var index = issued.endIndex
        while index > issued.startIndex && IssuedCount.precedes(new, issued[index - 1]) {
            index -= 1
        }
        if index > issued.startIndex && issued[index - 1].date == date && issued[index - 1].currency == currency {
            issued[index - 1].count += 1
            return issued[index - 1].count
        }
        issued.insert(new, at: index)
        return 1
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
        /// Invoices issued per currency and date, in date then currency-code order.
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

        /// Date order, then currency-code order: the order of ``Snapshot/issued``.
        static func precedes(_ lhs: IssuedCount, _ rhs: IssuedCount) -> Bool {
            lhs.date != rhs.date ? lhs.date < rhs.date : Currency.byCode(lhs.currency, rhs.currency)
        }
    }

    public var snapshot: Snapshot {
        Snapshot(
            customerId: customerId, contracts: contracts.values.sorted { $0.contract.id < $1.contract.id },
            usage: usage,
            pendingFees: pendingFees, coveredThrough: coveredThrough,
            issued: issued)
    }

    public init(snapshot: Snapshot) {
        self.customerId = snapshot.customerId
        self.contracts = Dictionary(uniqueKeysWithValues: snapshot.contracts.map { ($0.contract.id, $0) })
        self.usage = snapshot.usage
        self.pendingFees = snapshot.pendingFees
        self.coveredThrough = snapshot.coveredThrough
        self.issued = snapshot.issued.sorted(by: IssuedCount.precedes)
    }
}
