/// A service's usage of one metric in one calendar month, and what of it is already billed.
public struct UsageMonth: Sendable, Hashable {
    public struct Key: Sendable, Hashable, Comparable {
        public let serviceId: String
        public let metric: String
        /// The first day of the month.
        public let month: CalendarDate

        public init(serviceId: String, metric: String, month: CalendarDate) {
            self.serviceId = serviceId
            self.metric = metric
            self.month = month.startOfMonth
        }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.serviceId, lhs.metric, lhs.month) < (rhs.serviceId, rhs.metric, rhs.month)
        }
    }

    /// The price of the month: the service plan's when the month's first usage was rated.
    public let price: UsagePrice
    public let currency: Currency
    /// Σ quantities rated for the month so far.
    public internal(set) var quantity: Rational
    /// What earlier invoices billed for the month (`nil`: not billed yet).
    public internal(set) var billedQuantity: Rational?
    public internal(set) var billedAmount: Money?

    public init(
        price: UsagePrice, currency: Currency, quantity: Rational = .zero, billedQuantity: Rational? = nil,
        billedAmount: Money? = nil
    ) {
        self.price = price
        self.currency = currency
        self.quantity = quantity
        self.billedQuantity = billedQuantity
        self.billedAmount = billedAmount
    }

    /// Whether the next run bills this month: never billed, or more was rated since (late usage).
    var hasUnbilledUsage: Bool {
        guard let billedQuantity else { return true }
        return quantity > billedQuantity
    }

    /// The most a month's total per service and metric may reach.
    public static let maximumTotal = Rational(InputLimits.quantity.maximum)

    /// Why a quantity cannot be added to a month's total, or `nil` when it can.
    public static func checkQuantity(_ quantity: Rational, total: Rational) -> Rejection? {
        guard !quantity.isNegative else {
            return Rejection(.invalidQuantity, "quantity \(quantity) is negative")
        }
        guard InputLimits.quantity.admits(quantity) else {
            return Rejection(.invalidQuantity, "quantity \(quantity) is beyond 10^12 or has more than 6 decimals")
        }
        guard InputLimits.quantity.admits(total) else {
            return Rejection(.invalidQuantity, "the month's total would pass 10^12")
        }
        return nil
    }

    /// The month's whole price so far, rounded once.
    var amountDue: Money { Money.rounding(price.price(of: quantity), in: currency) }
}
