/// A catalog entry of a tenant: what a service costs.
public struct Plan: Sendable, Hashable {
    public var id: String
    public var name: String
    public var currency: Currency
    /// The list monthly fee, before any term discount.
    public var monthlyFee: Money
    public var serviceType: String
    public var bundle: [String]
    /// Capacity parameters (e.g. `bandwidth`), kept as the text given.
    public var capacity: [String: String]
    /// Percent off the list fee by term length in months (`12: 5` means 5 % off for 12 months).
    public var termDiscounts: [Int: Rational]
    /// Prices of metered metrics, by metric name.
    public var usagePrices: [String: UsagePrice]

    /// A plan whose values are checked: a fee that is not negative, discounts within
    /// 0–100 %, valid usage prices. Anything else is an `invalid_message` rejection.
    public static func validated(
        id: String, name: String, currency: Currency, monthlyFee: Money, serviceType: String,
        bundle: [String] = [], capacity: [String: String] = [:],
        termDiscounts: [Int: Rational] = [:], usagePrices: [UsagePrice] = []
    ) -> Result<Plan, Rejection> {
        guard !id.isEmpty else { return .failure(Rejection(.invalidMessage, "plan_id is empty")) }
        guard monthlyFee.currency == currency else {
            return .failure(Rejection(.invalidMessage, "monthly_fee is not in \(currency)"))
        }
        guard !monthlyFee.isNegative, InputLimits.amount.admits(monthlyFee.amount) else {
            return .failure(Rejection(.invalidMessage, "monthly_fee must be between 0 and 10^12"))
        }
        for (term, percent) in termDiscounts {
            guard term > 0 else {
                return .failure(Rejection(.invalidMessage, "term_discounts has a term of \(term) months"))
            }
            guard percent >= .zero, InputLimits.percent.admits(percent) else {
                return .failure(
                    Rejection(.invalidMessage, "term discount for \(term) months must be 0–100 %"))
            }
        }
        var prices: [String: UsagePrice] = [:]
        for price in usagePrices {
            guard prices[price.metric] == nil else {
                return .failure(
                    Rejection(.invalidMessage, "usage_prices names metric \(price.metric) twice"))
            }
            prices[price.metric] = price
        }
        return .success(
            Plan(
                id: id, name: name, currency: currency, monthlyFee: monthlyFee,
                serviceType: serviceType, bundle: bundle, capacity: capacity,
                termDiscounts: termDiscounts, usagePrices: prices))
    }

    private init(
        id: String, name: String, currency: Currency, monthlyFee: Money, serviceType: String,
        bundle: [String], capacity: [String: String], termDiscounts: [Int: Rational],
        usagePrices: [String: UsagePrice]
    ) {
        self.id = id
        self.name = name
        self.currency = currency
        self.monthlyFee = monthlyFee
        self.serviceType = serviceType
        self.bundle = bundle
        self.capacity = capacity
        self.termDiscounts = termDiscounts
        self.usagePrices = usagePrices
    }

    /// The contracted monthly fee for a term: the list fee less the plan's term discount for
    /// exactly that term (`fee × (1 − pct/100)`, rounded half up); the list fee when the plan
    /// has no discount for that term.
    public func contractedFee(termMonths: Int) -> Money {
        guard let percent = termDiscounts[termMonths] else { return monthlyFee }
        return Money.rounding(monthlyFee.amount * (Rational.one - percent / 100), in: currency)
    }
}
