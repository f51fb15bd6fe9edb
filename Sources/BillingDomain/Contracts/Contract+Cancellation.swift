/// A cancellation the contract's rules accepted.
public struct ContractCancellation: Sendable, Hashable {
    /// The contract, now ending on the effective date.
    public let contract: Contract
    /// The early-termination penalty, `nil` when the contract has none or ends at its term end.
    public let earlyTerminationFee: EarlyTerminationFee?

    /// A cancellation as another worker learned it from `contract.cancelled`.
    public init(contract: Contract, earlyTerminationFee: EarlyTerminationFee?) {
        self.contract = contract
        self.earlyTerminationFee = earlyTerminationFee
    }
}

/// An early-termination penalty, billed as one line on the next invoice.
public struct EarlyTerminationFee: Sendable, Hashable {
    public let contractId: String
    /// The service the line is charged to (`charge_to_service_id`, or the contract's service).
    public let serviceId: String
    /// `[effective date, term end)`: the part of the term given up.
    public let period: BillingPeriod
    public let amount: Money
    /// Day the fee arises: the cancellation's effective date.
    public var date: CalendarDate { period.start }

    public init(contractId: String, serviceId: String, period: BillingPeriod, amount: Money) {
        self.contractId = contractId
        self.serviceId = serviceId
        self.period = period
        self.amount = amount
    }
}

extension Contract {
    /// Cancels the contract with effect on `effective` (the first day not billed).
    ///
    /// Rejected with `cancellation_blocked` (and the earliest allowed date) before the
    /// cancellation deadline. On or after the term end nothing is given up: the contract ends
    /// at its term end and does not renew.
    public func cancelled(effective: CalendarDate, tenant: Tenant) -> Result<ContractCancellation, Rejection> {
        guard tenant.serviceContractsEnabled else {
            return .failure(Rejection(.contractsDisabled, "service contracts are disabled for tenant \(tenant.id)"))
        }
        if let closing {
            return .failure(
                Rejection(.invalidMessage, "contract \(id) has already ended (\(closing))"))
        }
        guard effective >= start else {
            return .failure(
                Rejection(.invalidMessage, "effective_date \(effective) is before the contract start \(start)"))
        }
        guard effective >= earliestCancellationDate else {
            let earliest = earliestCancellationDate
            return .failure(
                Rejection(
                    .cancellationBlocked,
                    "contract \(id) cannot be cancelled before \(earliest)",
                    details: ["earliest_allowed_date": earliest.description]))
        }
        var ended = self
        let endDate = CalendarDate.min(effective, termEnd)
        ended.close(at: endDate, as: .cancelled(effective: endDate))
        do {
            let fee = try earlyTerminationFee(from: endDate)
            return .success(ContractCancellation(contract: ended, earlyTerminationFee: fee))
        } catch {
            return .failure(
                Rejection(
                    .invalidMessage, "the early-termination fee of contract \(id) cannot be computed: \(error)",
                    details: ["reason": "arithmetic_overflow"]))
        }
    }

    /// The penalty for ending on `date`, or `nil` when there is none to charge.
    func earlyTerminationFee(from date: CalendarDate) throws(ArithmeticOverflow) -> EarlyTerminationFee? {
        guard let policy = terms.earlyTermination, date < termEnd else { return nil }
        let given = BillingPeriod(start: date, end: termEnd)
        let exact: Rational
        switch policy {
        case .remainder:
            exact = given.monthlyPieces.map { recurringCharge(for: $0).net }.sum()
        case .flatFee(let amount):
            exact = amount
        case .percentOfRemainingCommitments(let percent):
            exact = try percent.checkedPercent(of: remainingCommittedAmount(from: date))
        }
        return EarlyTerminationFee(
            contractId: id, serviceId: chargeToServiceId, period: given,
            amount: try Money.checkedRounding(exact, in: currency))
    }
}
