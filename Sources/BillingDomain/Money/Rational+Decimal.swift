/// Decimal text, the form every amount, quantity and percentage takes on the wire.
extension Rational {
    /// The most digits accepted before and after the decimal point.
    public static let maximumIntegerDigits = 18
    public static let maximumFractionDigits = 12

    /// Parses plain decimal text: an optional `-`, digits, and optionally `.` and digits
    /// (`"548.39"`, `"10"`, `"-0.5"`). No exponent, no `+`, no spaces, no leading or trailing
    /// `.`, at most 18 integer and 12 fraction digits. Returns `nil` for anything else.
    public init?(decimal text: some StringProtocol) {
        self.init(
            parsing: text, maximumIntegerDigits: Rational.maximumIntegerDigits,
            maximumFractionDigits: Rational.maximumFractionDigits)
    }

    /// Parses decimal text a database returns (PostgreSQL `NUMERIC` keeps trailing zeros and
    /// may carry more digits than the wire accepts): the same form, up to 38 digits in all.
    public init?(storedDecimal text: some StringProtocol) {
        self.init(parsing: text, maximumIntegerDigits: 38, maximumFractionDigits: 38)
    }

    private init?(parsing text: some StringProtocol, maximumIntegerDigits: Int, maximumFractionDigits: Int) {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        var integerDigits = 0
        var fractionDigits = 0
        var seenPoint = false
        var value: Int128 = 0
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint, integerDigits > 0 else { return nil }
                seenPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            if seenPoint {
                fractionDigits += 1
            } else {
                integerDigits += 1
            }
            // Refused as soon as it is too long, before the digit is added: 38 digits always fit
            // an Int128, and a 39th would overflow it (a text of 40 nines stopped the worker).
            guard integerDigits <= maximumIntegerDigits, fractionDigits <= maximumFractionDigits,
                integerDigits + fractionDigits <= 38
            else { return nil }
            value = value * 10 + Int128(byte - UInt8(ascii: "0"))
        }
        guard integerDigits > 0, integerDigits <= maximumIntegerDigits, fractionDigits <= maximumFractionDigits,
            integerDigits + fractionDigits <= 38, !(seenPoint && fractionDigits == 0)
        else { return nil }
        self.init(negative ? -value : value, Rational.powerOfTen(fractionDigits))
    }

    /// The value as decimal text with exactly `scale` fraction digits, rounded half up.
    public func decimalText(scale: Int) -> String {
        Rational.decimalText(units: roundedHalfUp(scale: scale), scale: scale)
    }

    /// The value as the shortest exact decimal text (`"12.5"`, `"100"`), or `nil` when it has
    /// no finite decimal expansion (one third).
    public var exactDecimalText: String? {
        var scale = 0
        while scale <= 38 {
            if Rational.powerOfTen(scale) % denominator == 0 {
                return Rational.decimalText(
                    units: numerator * (Rational.powerOfTen(scale) / denominator), scale: scale)
            }
            scale += 1
        }
        return nil
    }

    static func decimalText(units: Int128, scale: Int) -> String {
        let magnitude = units.magnitude
        var digits = String(magnitude)
        if scale > 0 {
            if digits.count <= scale {
                digits = String(repeating: "0", count: scale - digits.count + 1) + digits
            }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        return units < 0 ? "-" + digits : digits
    }
}

extension Rational: CustomStringConvertible {
    public var description: String {
        exactDecimalText ?? "\(numerator)/\(denominator)"
    }
}

extension Rational {
    /// Exact text for a value passed between workers: decimal when it terminates, else
    /// `numerator/denominator` (an average over three services, say).
    public var exactText: String { description }

    /// Reads ``exactText``: a decimal or `numerator/denominator` with a positive denominator.
    public init?(exactText text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 1 {
            guard let value = Rational(storedDecimal: text) else { return nil }
            self = value
            return
        }
        guard parts.count == 2, let numerator = Int128(String(parts[0])), let denominator = Int128(String(parts[1])),
            denominator > 0
        else { return nil }
        self.init(numerator, denominator)
    }
}
