/// A contract's promise of a minimum per evaluation window, with the penalty for missing it.
public struct Commitment: Sendable, Hashable {
    public let id: String
    public let measure: Measure
    /// The length of one evaluation window in months; windows are calendar-aligned.
    public let frequencyMonths: Int
    /// How long the commitment runs from the contract start; `nil` is the whole term.
    public let periodMonths: Int?
    /// The committed amount per window, by window number (window 1 is the first).
    public let ramp: [RampStep]
    public let penalty: Penalty

    /// What "actual" is for a window.
    public enum Measure: Sendable, Hashable {
        /// Distinct services of the customer of a service type (on any plan) active in the window.
        case service(serviceType: String)
        /// Distinct services on a plan active in the window, of a service type when one is given.
        case packageService(planId: String, serviceType: String?)
        /// Distinct services on a plan active in the window (package volume).
        case package(planId: String)
        /// Total quantity of a metric over all the customer's services.
        case usage(metric: String)
        /// Total amount of the customer's invoice lines in the contract's currency, after
        /// discount, without commitment penalty or early-termination lines.
        case invoiceAmount
        /// Total quantity of a metric over a set of services ÷ those of them active in the window.
        case averageUsage(metric: String, serviceIds: [String])

        /// The type's name on the wire.
        public var typeName: String {
            switch self {
            case .service: "service"
            case .packageService: "package_service"
            case .package: "package"
            case .usage: "usage"
            case .invoiceAmount: "invoice_amount"
            case .averageUsage: "average_usage"
            }
        }

        /// Only an invoiced amount is money.
        public var isMonetary: Bool { self == .invoiceAmount }
    }

    public struct RampStep: Sendable, Hashable {
        public let fromWindow: Int
        public let amount: Rational

        public init(fromWindow: Int, amount: Rational) {
            self.fromWindow = fromWindow
            self.amount = amount
        }
    }

    public enum Penalty: Sendable, Hashable {
        /// True-up: the monetary shortfall itself (only for `invoice_amount`).
        case charge
        /// `unitPrice × shortfall`.
        case count(unitPrice: Rational)
        /// Graduated over the shortfall; `upTo` inclusive, the last tier unbounded.
        case tiered(tiers: [PriceTier])
        /// A fixed amount when the commitment is missed.
        case flat(amount: Rational)
    }

    /// A commitment whose fields are checked; anything unusable is `invalid_commitment`.
    public static func validated(
        id: String, measure: Measure, frequencyMonths: Int, periodMonths: Int? = nil, ramp: [RampStep],
        penalty: Penalty
    ) -> Result<Commitment, Rejection> {
        func invalid(_ message: String) -> Result<Commitment, Rejection> {
            .failure(Rejection(.invalidCommitment, "commitment \(id.isEmpty ? "(no id)" : id): \(message)"))
        }
        guard !id.isEmpty else { return invalid("id is empty") }
        guard frequencyMonths >= 1 else { return invalid("frequency_months must be at least 1") }
        if let periodMonths, periodMonths < 1 { return invalid("period_months must be at least 1") }
        switch measure {
        case .service(let type) where type.isEmpty: return invalid("service_type is empty")
        case .packageService(let plan, _) where plan.isEmpty, .package(let plan) where plan.isEmpty:
            return invalid("plan_id is empty")
        case .usage(let metric) where metric.isEmpty: return invalid("metric is empty")
        case .averageUsage(let metric, let services) where metric.isEmpty || services.isEmpty:
            return invalid("average_usage needs a metric and service_ids")
        default: break
        }
        guard let first = ramp.first, first.fromWindow == 1 else {
            return invalid("the ramp must start with from_window 1")
        }
        guard ramp.count <= InputLimits.rampSteps else {
            return invalid("a ramp has at most \(InputLimits.rampSteps) steps, not \(ramp.count)")
        }
        for (previous, step) in zip(ramp, ramp.dropFirst()) where step.fromWindow <= previous.fromWindow {
            return invalid("ramp windows must increase")
        }
        if ramp.contains(where: { $0.amount.isNegative || !InputLimits.amount.admits($0.amount) }) {
            return invalid("a committed amount must be between 0 and 10^12, with at most 4 decimals")
        }
        switch penalty {
        case .charge where !measure.isMonetary:
            return invalid("a charge penalty needs a monetary (invoice_amount) commitment, not \(measure.typeName)")
        case .count(let price) where price.isNegative || !InputLimits.price.admits(price):
            return invalid("the penalty unit_price must be between 0 and 10^9, with at most 9 decimals")
        case .flat(let amount) where amount.isNegative || !InputLimits.amount.admits(amount):
            return invalid("the penalty amount must be between 0 and 10^12")
        case .tiered(let tiers):
            if tiers.contains(where: { !$0.flatAmount.isZero }) { return invalid("penalty tiers have no flat_amount") }
            if let problem = PricingModel.graduated(tiers: tiers).problem {
                return invalid("penalty tiers: \(problem)")
            }
        default: break
        }
        return .success(
            Commitment(
                id: id, measure: measure, frequencyMonths: frequencyMonths, periodMonths: periodMonths, ramp: ramp,
                penalty: penalty))
    }

    private init(
        id: String, measure: Measure, frequencyMonths: Int, periodMonths: Int?, ramp: [RampStep], penalty: Penalty
    ) {
        self.id = id
        self.measure = measure
        self.frequencyMonths = frequencyMonths
        self.periodMonths = periodMonths
        self.ramp = ramp
        self.penalty = penalty
    }

    /// The committed amount of a whole window: the ramp step in force for its number.
    public func committedAmount(window: Int) -> Rational {
        ramp.last { $0.fromWindow <= window }?.amount ?? .zero
    }

    /// The exact penalty for a shortfall (zero when there is none). A shortfall of an average
    /// over many services has a large denominator, and a fine unit price on it can leave Int128:
    /// that is reported, not trapped.
    public func penaltyAmount(shortfall: Rational) throws(ArithmeticOverflow) -> Rational {
        guard shortfall > .zero else { return .zero }
        switch penalty {
        case .charge: return shortfall
        case .count(let unitPrice): return try unitPrice.multiplied(by: shortfall)
        case .tiered(let tiers): return try PricingModel.graduated(tiers: tiers).checkedPrice(of: shortfall)
        case .flat(let amount): return amount
        }
    }
}
