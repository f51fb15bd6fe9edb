/// The fixed-term agreement of one service: a plan at a contracted fee for a term.
public struct Contract: Sendable, Hashable {
    public let id: String
    public let customerId: String
    public let serviceId: String
    public let planId: String
    /// The plan's name when signed, for invoice line descriptions.
    public let planName: String
    /// The contracted fee, fixed at signing: it does not follow later catalog changes.
    public let monthlyFee: Money
    public let terms: ContractTerms
    /// `[start, termEnd)`: the agreed term.
    public let term: BillingPeriod
    /// The day the contract stops billing (exclusive): the term end, or earlier when it was
    /// cancelled or its plan changed.
    public internal(set) var end: CalendarDate
    public private(set) var closing: Closing?

    public var currency: Currency { monthlyFee.currency }
    public var start: CalendarDate { term.start }
    public var termEnd: CalendarDate { term.end }
    /// The days the contract bills: `[start, end)`.
    public var billedPeriod: BillingPeriod { BillingPeriod(start: term.start, end: end) }
    /// Where penalty lines go.
    public var chargeToServiceId: String { terms.chargeToServiceId ?? serviceId }

    /// How a contract came to an end before (or instead of) its renewal policy.
    public enum Closing: Sendable, Hashable {
        case cancelled(effective: CalendarDate)
        case planChanged(effective: CalendarDate, newContractId: String)
    }

    init(
        id: String, customerId: String, serviceId: String, plan: Plan, monthlyFee: Money,
        terms: ContractTerms, start: CalendarDate
    ) {
        self.init(
            id: id, customerId: customerId, serviceId: serviceId, planId: plan.id,
            planName: plan.name, monthlyFee: monthlyFee, terms: terms, start: start)
    }

    init(
        id: String, customerId: String, serviceId: String, planId: String, planName: String,
        monthlyFee: Money, terms: ContractTerms, start: CalendarDate
    ) {
        self.id = id
        self.customerId = customerId
        self.serviceId = serviceId
        self.planId = planId
        self.planName = planName
        self.monthlyFee = monthlyFee
        self.terms = terms
        let termEnd = start.adding(months: terms.termMonths)
        self.term = BillingPeriod(start: start, end: termEnd)
        self.end = termEnd
        self.closing = nil
    }

    /// A contract as a store kept it: the values it was signed with and how it ended, if it
    /// did. Nothing is re-checked or re-priced (the fee stays the one agreed at signing).
    public static func restore(
        id: String, customerId: String, serviceId: String, planId: String, planName: String, monthlyFee: Money,
        terms: ContractTerms, start: CalendarDate, end: CalendarDate, closing: Closing?
    ) -> Contract {
        var contract = Contract(
            id: id, customerId: customerId, serviceId: serviceId, planId: planId, planName: planName,
            monthlyFee: monthlyFee, terms: terms, start: start)
        contract.end = end
        contract.closing = closing
        return contract
    }

    /// The earliest date a cancellation may take effect: start + deadline months.
    public var earliestCancellationDate: CalendarDate {
        start.adding(months: terms.cancellationDeadlineMonths)
    }

    mutating func close(at date: CalendarDate, as closing: Closing) {
        self.end = date
        self.closing = closing
    }
}
