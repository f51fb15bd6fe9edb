/// How one metered metric of a plan is priced over a month's total quantity.
public struct UsagePrice: Sendable, Hashable {
    /// Held by reference: every month of usage keeps the price it was rated at, and copies of
    /// one price share one value rather than each carrying the tiers inline.
    private let terms: Shared<Terms>

    private struct Terms: Sendable, Hashable {
        let metric: String
        let model: PricingModel
    }

    public var metric: String { terms.value.metric }
    public var model: PricingModel { terms.value.model }

    /// A price whose values are checked; anything unusable is an `invalid_message` rejection.
    public static func validated(metric: String, model: PricingModel) -> Result<UsagePrice, Rejection> {
        guard !metric.isEmpty else {
            return .failure(Rejection(.invalidMessage, "a usage price has an empty metric"))
        }
        if let problem = model.problem {
            return .failure(Rejection(.invalidMessage, "usage price of \(metric): \(problem)"))
        }
        return .success(UsagePrice(metric: metric, model: model))
    }

    private init(metric: String, model: PricingModel) {
        terms = Shared(Terms(metric: metric, model: model))
    }

    /// The exact price of `quantity` units (not rounded: the line rounds once).
    public func price(of quantity: Rational) -> Rational {
        terms.value.model.price(of: quantity)
    }
}

/// One band of a tiered price. `upTo` is inclusive (a tier ending at 100 prices the 100th
/// unit); the last tier has no bound. `flatAmount` is charged once when the quantity reaches
/// the tier.
public struct PriceTier: Sendable, Hashable {
    public let upTo: Rational?
    public let unitPrice: Rational
    public let flatAmount: Rational

    public init(upTo: Rational?, unitPrice: Rational, flatAmount: Rational = .zero) {
        self.upTo = upTo
        self.unitPrice = unitPrice
        self.flatAmount = flatAmount
    }
}

public enum PricingModel: Sendable, Hashable {
    /// Every unit at one price.
    case perUnit(unitPrice: Rational)
    /// Each unit priced by the tier it falls in; each tier reached adds its flat amount.
    case graduated(tiers: [PriceTier])
    /// Every unit at the price of the tier the total reaches, plus that tier's flat amount.
    case volume(tiers: [PriceTier])
    /// A price per started block of `packageSize` units.
    case package(packageSize: Rational, unitPrice: Rational)

    var problem: String? {
        let prices: [Rational]
        switch self {
        case .perUnit(let unitPrice): prices = [unitPrice]
        case .graduated(let tiers), .volume(let tiers):
            prices = tiers.flatMap { [$0.unitPrice, $0.flatAmount] + ($0.upTo.map { [$0] } ?? []) }
        case .package(let size, let unitPrice): prices = [size, unitPrice]
        }
        if let outOfBounds = prices.first(where: { !InputLimits.price.admits($0) }) {
            return "\(outOfBounds) is beyond 10^9 or has more than 9 decimals"
        }
        switch self {
        case .perUnit(let unitPrice):
            return unitPrice.isNegative ? "unit_price must not be negative" : nil
        case .graduated(let tiers), .volume(let tiers):
            return PricingModel.problem(in: tiers)
        case .package(let size, let unitPrice):
            if size <= .zero { return "package_size must be greater than zero" }
            if unitPrice.isNegative { return "unit_price must not be negative" }
            return PricingModel.packageProblem(size: size, unitPrice: unitPrice)
        }
    }

    /// A package price must price the largest month total exactly, rounded to the finest minor
    /// unit: `unit_price`'s numerator × the most blocks × 10^4 within Int128 (the product of the
    /// unreduced terms bounds every reduced one). A billionth-unit package at a billion each
    /// does not; it is refused here rather than stop the invoicing of a billing run.
    private static func packageProblem(size: Rational, unitPrice: Rational) -> String? {
        let most = Rational(InputLimits.quantity.maximum)
        guard let blocks = Rational.division(most, size)?.ceiling,
            let priced = Rational.multiply(unitPrice.numerator, blocks),
            Rational.multiply(priced, Rational.powerOfTen(4)) != nil
        else {
            return "package_size \(size) with unit_price \(unitPrice) prices more units than Covenant computes exactly"
        }
        return nil
    }

    private static func problem(in tiers: [PriceTier]) -> String? {
        guard let last = tiers.last else { return "tiers are empty" }
        guard tiers.count <= InputLimits.tiers else { return "at most \(InputLimits.tiers) tiers, not \(tiers.count)" }
        guard last.upTo == nil else { return "the last tier must have up_to null" }
        var previous = Rational.zero
        for (index, tier) in tiers.enumerated() {
            if tier.unitPrice.isNegative || tier.flatAmount.isNegative {
                return "tier \(index + 1) has a negative price"
            }
            guard index < tiers.count - 1 else { break }
            guard let upTo = tier.upTo else { return "only the last tier may have up_to null" }
            guard upTo > previous || (index == 0 && upTo >= previous) else {
                return "tier bounds must increase"
            }
            previous = upTo
        }
        return nil
    }

    func price(of quantity: Rational) -> Rational {
        do {
            return try checkedPrice(of: quantity)
        } catch {
            // Usage prices are checked when the plan is stored (``problem``) so that every
            // month total within `InputLimits.quantity` prices inside Int128.
            Rational.overflow("price of \(quantity)")
        }
    }

    /// The exact price of `quantity`, reporting an overflow: a penalty priced on a shortfall
    /// (whose denominator grows with the services averaged over) can leave Int128.
    func checkedPrice(of quantity: Rational) throws(ArithmeticOverflow) -> Rational {
        switch self {
        case .perUnit(let unitPrice):
            return try unitPrice.multiplied(by: quantity)
        case .package(let size, let unitPrice):
            return try unitPrice.multiplied(by: Rational(try quantity.divided(by: size).ceiling))
        case .graduated(let tiers):
            var total = Rational.zero
            var lowerBound = Rational.zero
            for (index, tier) in tiers.enumerated() {
                // The first tier is reached by any quantity (zero included); a later one once
                // the quantity passes the bound of the tier before it.
                guard index == 0 || quantity > lowerBound else { break }
                let upper = tier.upTo.map { Rational.min($0, quantity) } ?? quantity
                let units = Rational.max(try upper.adding(-lowerBound), .zero)
                total = try total.adding(try tier.unitPrice.multiplied(by: units)).adding(tier.flatAmount)
                guard let upTo = tier.upTo else { break }
                lowerBound = upTo
            }
            return total
        case .volume(let tiers):
            let tier = tiers.first { tier in tier.upTo.map { quantity <= $0 } ?? true } ?? tiers[tiers.count - 1]
            return try tier.unitPrice.multiplied(by: quantity).adding(tier.flatAmount)
        }
    }
}
