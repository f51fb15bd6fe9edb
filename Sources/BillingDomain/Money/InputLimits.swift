/// How large and how fine the numbers Covenant accepts may be.
///
/// The limits keep every exact computation inside `Int128` (a price's terms stay below 10^18,
/// a quantity's below 10^18, so their product stays below 10^36) while leaving room for any
/// real bill: a trillion units, a price of a billionth, a fee of a trillion.
public enum InputLimits {
    /// Fees, flat amounts and committed money: at most 10^12, at most 4 decimals.
    public static let amount = Bound(maximum: 1_000_000_000_000, fractionDigits: 4)
    /// Unit prices, tier bounds and flat tier amounts: at most 10^9, at most 9 decimals.
    public static let price = Bound(maximum: 1_000_000_000, fractionDigits: 9)
    /// One usage record's quantity, and a month's total per service and metric: at most 10^12,
    /// at most 6 decimals.
    public static let quantity = Bound(maximum: 1_000_000_000_000, fractionDigits: 6)
    /// Percentages: 0 to 100, at most 6 decimals.
    public static let percent = Bound(maximum: 100, fractionDigits: 6)

    /// Commitments one contract carries (the spec allows any number; this many covers every
    /// real contract and keeps a cancellation's or a run's work small).
    public static let commitmentsPerContract = 50
    /// Steps of one commitment's ramp: a 60-month term has at most 60 monthly windows.
    public static let rampSteps = 60
    /// Tiers of one usage price or one penalty.
    public static let tiers = 100
    /// Usage prices (metrics) of one plan.
    public static let usagePricesPerPlan = 100
    /// Services provisioned for one customer, ended ones included (a service's last invoice
    /// bills it after it ends). With the caps above they bound the lines of one invoice: per
    /// service a recurring line, a usage line per metric and a line per commitment, about 15,000
    /// lines at most, some 5 MB of `invoice.ready` (the broker takes 16 MiB).
    public static let servicesPerCustomer = 100

    public struct Bound: Sendable, Hashable {
        public let maximum: Int128
        public let fractionDigits: Int

        /// Whether `value` is between −maximum and maximum with no more decimals than allowed.
        public func admits(_ value: Rational) -> Bool {
            value <= Rational(maximum) && value >= Rational(-maximum)
                && Rational.quotientAndRemainder(Rational.powerOfTen(fractionDigits), value.denominator).remainder == 0
        }
    }
}
