/// One line of an invoice. `amount = grossAmount − discountAmount`, each rounded once.
public struct InvoiceLine: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case recurring
        case usage
        case commitmentShortfall = "commitment_shortfall"
        case earlyTermination = "early_termination"
    }

    public let kind: Kind
    public let serviceId: String
    public let contractId: String?
    public let period: BillingPeriod
    public let description: String
    public let grossAmount: Money
    public let discountAmount: Money
    /// Usage lines: the metric and the quantity billed.
    public let metric: String?
    public let quantity: Rational?
    /// Usage of a month that an earlier invoice already covered.
    public let late: Bool
    /// Commitment shortfall lines: what was committed, measured and missed.
    public var commitment: CommitmentOutcome? { shortfall?.value }
    /// Held by reference: few lines have one, and inline it would double every line's size
    /// (lines are copied as invoices are put together).
    private let shortfall: Shared<CommitmentOutcome>?

    public var amount: Money {
        Money(minorUnits: grossAmount.minorUnits - discountAmount.minorUnits, currency: currency)
    }

    public var currency: Currency { grossAmount.currency }

    public init(
        kind: Kind, serviceId: String, contractId: String?, period: BillingPeriod,
        description: String, grossAmount: Money, discountAmount: Money? = nil,
        metric: String? = nil, quantity: Rational? = nil, late: Bool = false,
        commitment: CommitmentOutcome? = nil
    ) {
        precondition(discountAmount.map { $0.currency == grossAmount.currency } ?? true, "line of two currencies")
        self.kind = kind
        self.serviceId = serviceId
        self.contractId = contractId
        self.period = period
        self.description = description
        self.grossAmount = grossAmount
        self.discountAmount = discountAmount ?? .zero(grossAmount.currency)
        self.metric = metric
        self.quantity = quantity
        self.late = late
        self.shortfall = commitment.map { Shared($0) }
    }

    /// Whether the line counts toward an `invoice_amount` commitment: penalty lines do not.
    public var countsTowardCommitments: Bool {
        kind == .recurring || kind == .usage
    }
}
