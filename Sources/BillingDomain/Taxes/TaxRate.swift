/// One of a tenant's taxes: a code its customers may name, a name for documents, a rate in
/// percent, and whether it applies to customers that name no taxes of their own.
public struct TaxRate: Sendable, Hashable {
    public let code: String
    public let name: String
    /// Percent, 0 to 100 (`9` is 9 %).
    public let rate: Rational
    public let isDefault: Bool

    /// A tax whose rate lies in 0…100; `nil` otherwise.
    public init?(code: String, name: String, rate: Rational, isDefault: Bool) {
        guard rate >= .zero, rate <= .hundred else { return nil }
        self.code = code
        self.name = name
        self.rate = rate
        self.isDefault = isDefault
    }

    /// The tax on a line's net amount: `amount × rate / 100`, rounded half up (away from zero)
    /// to the minor unit, once. A negative amount has a negative tax.
    public func tax(on amount: Money) throws(ArithmeticOverflow) -> Money {
        try Money.checkedRounding(try rate.checkedPercent(of: amount.amount), in: amount.currency)
    }
}

/// Which of the tenant's taxes a customer pays.
public enum TaxTreatment: Sendable, Hashable {
    /// The tenant's default taxes (a customer that says nothing).
    case tenantDefaults
    /// None.
    case exempt
    /// These codes of the tenant's, instead of its defaults.
    case codes([String])

    /// The taxes that apply, in the tenant's order. A code the tenant no longer lists simply
    /// stops applying.
    public func applicable(from taxes: [TaxRate]) -> [TaxRate] {
        switch self {
        case .tenantDefaults: taxes.filter(\.isDefault)
        case .exempt: []
        case .codes(let codes): taxes.filter { codes.contains($0.code) }
        }
    }

    /// The codes named that the tenant does not list (`unknown_tax_code`).
    public func unknownCodes(among taxes: [TaxRate]) -> [String] {
        guard case .codes(let codes) = self else { return [] }
        let listed = Set(taxes.map(\.code))
        return codes.filter { !listed.contains($0) }
    }
}

/// One tax on one invoice line.
public struct LineTax: Sendable, Hashable {
    public let code: String
    public let rate: Rational
    public let amount: Money

    public init(code: String, rate: Rational, amount: Money) {
        self.code = code
        self.rate = rate
        self.amount = amount
    }
}
