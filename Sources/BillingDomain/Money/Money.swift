/// An amount of one currency, held exactly in the currency's minor units.
///
/// A `Money` is always a rounded amount: exact intermediate values are ``Rational``s, and
/// ``rounding(_:in:)`` turns one into money once per line, half up. Adding amounts of two
/// currencies is an error (``CurrencyMismatch``), never a silent sum.
public struct Money: Sendable, Hashable {
    public let minorUnits: Int128
    public let currency: Currency

    public init(minorUnits: Int128, currency: Currency) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    public static func zero(_ currency: Currency) -> Money {
        Money(minorUnits: 0, currency: currency)
    }

    /// The exact value rounded half up (away from zero on .5) to the currency's minor unit.
    public static func rounding(_ exact: Rational, in currency: Currency) -> Money {
        Money(minorUnits: exact.roundedHalfUp(scale: currency.minorUnit), currency: currency)
    }

    /// ``rounding(_:in:)``, reporting an overflow instead of stopping.
    public static func checkedRounding(_ exact: Rational, in currency: Currency) throws(ArithmeticOverflow) -> Money {
        Money(minorUnits: try exact.checkedRoundedHalfUp(scale: currency.minorUnit), currency: currency)
    }

    /// Parses decimal text that the currency can hold exactly (`"548.39"` in INR, `"1000"` in
    /// JPY). Text with more fraction digits than the minor unit, or that is not plain decimal
    /// text, gives `nil`: a price is never silently rounded on the way in.
    public init?(decimal text: some StringProtocol, currency: Currency) {
        guard let exact = Rational(decimal: text) else { return nil }
        let units = exact * Rational(Rational.powerOfTen(currency.minorUnit))
        guard units.isInteger else { return nil }
        self.init(minorUnits: units.numerator, currency: currency)
    }

    /// The exact value in major units.
    public var amount: Rational {
        Rational(minorUnits, Rational.powerOfTen(currency.minorUnit))
    }

    public var isZero: Bool { minorUnits == 0 }
    public var isNegative: Bool { minorUnits < 0 }

    /// Decimal text with the currency's minor-unit digits: `"548.39"`, `"1000"` (JPY),
    /// `"1.000"` (BHD), `"-0.50"`.
    public var decimalText: String {
        Rational.decimalText(units: minorUnits, scale: currency.minorUnit)
    }

    public func adding(_ other: Money) throws(CurrencyMismatch) -> Money {
        try checkSameCurrency(other)
        return Money(minorUnits: minorUnits + other.minorUnits, currency: currency)
    }

    public func subtracting(_ other: Money) throws(CurrencyMismatch) -> Money {
        try checkSameCurrency(other)
        return Money(minorUnits: minorUnits - other.minorUnits, currency: currency)
    }

    public static prefix func - (value: Money) -> Money {
        Money(minorUnits: -value.minorUnits, currency: value.currency)
    }

    private func checkSameCurrency(_ other: Money) throws(CurrencyMismatch) {
        guard currency == other.currency else {
            throw CurrencyMismatch(expected: currency, found: other.currency)
        }
    }
}

extension Money: CustomStringConvertible {
    public var description: String { "\(decimalText) \(currency.code)" }
}

extension Money: Comparable {
    /// Orders amounts of one currency. Comparing two currencies is a programming error.
    public static func < (lhs: Money, rhs: Money) -> Bool {
        precondition(lhs.currency == rhs.currency, "comparing \(lhs.currency) with \(rhs.currency)")
        return lhs.minorUnits < rhs.minorUnits
    }
}

/// Two amounts of different currencies met in one sum.
public struct CurrencyMismatch: Error, Hashable, CustomStringConvertible {
    public let expected: Currency
    public let found: Currency

    public init(expected: Currency, found: Currency) {
        self.expected = expected
        self.found = found
    }

    public var description: String { "currency mismatch: expected \(expected), found \(found)" }
}

extension Sequence where Element == Money {
    /// The sum of amounts of `currency`; an amount of another currency is an error.
    public func total(in currency: Currency) throws(CurrencyMismatch) -> Money {
        var result = Money.zero(currency)
        for money in self {
            result = try result.adding(money)
        }
        return result
    }
}
