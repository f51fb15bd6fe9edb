/// What a contract's parties agreed, apart from the plan and the start: the part a plan change
/// and an `auto_renew` renewal carry over.
public struct ContractTerms: Sendable, Hashable {
    public var termMonths: Int
    /// The agreed monthly fee; `nil` takes the plan's list fee less its term discount.
    public var monthlyFee: Rational?
    /// Percent off every recurring line.
    public var discountPercent: Rational
    /// Months from the start before a cancellation may take effect.
    public var cancellationDeadlineMonths: Int
    public var renewal: RenewalPolicy
    /// `nil`: leaving early costs nothing beyond the recurring charges up to the end date.
    public var earlyTermination: EarlyTerminationPolicy?
    /// Where penalty lines go; `nil` is the contract's own service.
    public var chargeToServiceId: String?
    public var commitments: [Commitment]

    public init(
        termMonths: Int, monthlyFee: Rational? = nil, discountPercent: Rational = .zero,
        cancellationDeadlineMonths: Int = 0, renewal: RenewalPolicy = .expire,
        earlyTermination: EarlyTerminationPolicy? = nil, chargeToServiceId: String? = nil,
        commitments: [Commitment] = []
    ) {
        self.termMonths = termMonths
        self.monthlyFee = monthlyFee
        self.discountPercent = discountPercent
        self.cancellationDeadlineMonths = cancellationDeadlineMonths
        self.renewal = renewal
        self.earlyTermination = earlyTermination
        self.chargeToServiceId = chargeToServiceId
        self.commitments = commitments
    }

    /// The first problem with these terms for `tenant`, checked recursively through a
    /// `renew_to` policy.
    public func problem(for tenant: Tenant) -> Rejection? {
        if let rejection = tenant.checkTerm(termMonths) { return rejection }
        if let fee = monthlyFee, fee.isNegative || !InputLimits.amount.admits(fee) {
            return Rejection(.invalidMessage, "contract monthly_fee must be between 0 and 10^12")
        }
        guard discountPercent >= .zero, InputLimits.percent.admits(discountPercent) else {
            return Rejection(.invalidMessage, "discount_percent must be between 0 and 100")
        }
        guard (0...termMonths).contains(cancellationDeadlineMonths) else {
            return Rejection(
                .invalidMessage,
                "cancellation_deadline_months must be between 0 and the term (\(termMonths))")
        }
        switch earlyTermination {
        case .flatFee(let amount) where amount.isNegative || !InputLimits.amount.admits(amount):
            return Rejection(.invalidMessage, "early_termination amount must be between 0 and 10^12")
        case .percentOfRemainingCommitments(let percent) where percent < .zero || !InputLimits.percent.admits(percent):
            return Rejection(.invalidMessage, "early_termination percent must be between 0 and 100")
        default:
            break
        }
        if let service = chargeToServiceId, service.isEmpty {
            return Rejection(.invalidMessage, "charge_to_service_id is empty")
        }
        guard commitments.count <= InputLimits.commitmentsPerContract else {
            return Rejection(
                .invalidCommitment,
                "a contract carries at most \(InputLimits.commitmentsPerContract) commitments, not \(commitments.count)"
            )
        }
        var commitmentIds: Set<String> = []
        for commitment in commitments {
            guard commitmentIds.insert(commitment.id).inserted else {
                return Rejection(.invalidCommitment, "commitment id \(commitment.id) is used twice")
            }
            if let months = commitment.periodMonths, months > termMonths {
                return Rejection(
                    .invalidCommitment,
                    "commitment \(commitment.id): period_months \(months) is longer than the term (\(termMonths))")
            }
        }
        if case .renewTo(let next) = renewal {
            return next.problem(for: tenant)
        }
        return nil
    }
}

/// What happens at the end of a contract's term.
public indirect enum RenewalPolicy: Sendable, Hashable {
    /// The contract ends at its end date.
    case expire
    /// A new contract with the same term, fee, discount and policies starts at the end date.
    case autoRenew
    /// A new contract with the given terms starts at the end date.
    case renewTo(ContractTerms)

    /// The policy's name on the wire.
    public var name: String {
        switch self {
        case .expire: "expire"
        case .autoRenew: "auto_renew"
        case .renewTo: "renew_to"
        }
    }
}

/// The penalty for ending a contract before its term end.
public enum EarlyTerminationPolicy: Sendable, Hashable {
    /// The recurring charges the contract would still have billed, discount included.
    case remainder
    /// A fixed amount in the contract's currency.
    case flatFee(Rational)
    /// A percentage of the committed amounts still to come.
    case percentOfRemainingCommitments(Rational)
}

/// The contract fields a plan change may override; `nil` keeps the old contract's value.
public struct ContractTermsOverrides: Sendable, Hashable {
    public var termMonths: Int?
    public var monthlyFee: Rational?
    public var discountPercent: Rational?
    public var cancellationDeadlineMonths: Int?
    public var renewal: RenewalPolicy?
    public var earlyTermination: EarlyTerminationPolicy?
    public var chargeToServiceId: String?
    public var commitments: [Commitment]?

    public init(
        termMonths: Int? = nil, monthlyFee: Rational? = nil, discountPercent: Rational? = nil,
        cancellationDeadlineMonths: Int? = nil, renewal: RenewalPolicy? = nil,
        earlyTermination: EarlyTerminationPolicy? = nil, chargeToServiceId: String? = nil,
        commitments: [Commitment]? = nil
    ) {
        self.termMonths = termMonths
        self.monthlyFee = monthlyFee
        self.discountPercent = discountPercent
        self.cancellationDeadlineMonths = cancellationDeadlineMonths
        self.renewal = renewal
        self.earlyTermination = earlyTermination
        self.chargeToServiceId = chargeToServiceId
        self.commitments = commitments
    }

    /// `terms` with these overrides applied. The monthly fee is never carried over: the new
    /// contract takes the new plan's price unless an override names one.
    func applied(to terms: ContractTerms) -> ContractTerms {
        ContractTerms(
            termMonths: termMonths ?? terms.termMonths,
            monthlyFee: monthlyFee,
            discountPercent: discountPercent ?? terms.discountPercent,
            cancellationDeadlineMonths: cancellationDeadlineMonths ?? terms.cancellationDeadlineMonths,
            renewal: renewal ?? terms.renewal,
            earlyTermination: earlyTermination ?? terms.earlyTermination,
            chargeToServiceId: chargeToServiceId ?? terms.chargeToServiceId,
            commitments: commitments ?? terms.commitments)
    }
}
