/// An exact rational number: the value every amount is computed in before it is rounded.
///
/// Amounts, quantities, prices and percentages arrive as decimal strings and are exact
/// rationals with a power-of-ten denominator; proration (`days / days_in_month`) and averages
/// add other denominators. Nothing here is ever approximated: rounding happens once, in
/// ``Money/rounding(_:in:)``, on the exact value.
///
/// The numerator and denominator are `Int128`, kept reduced with a positive denominator.
/// Sums use the least common denominator, products cross-cancel and rounding cancels the power
/// of ten first, so values stay as small as they can; with the input bounds of
/// `docs/billing.md` billing arithmetic stays far inside `Int128`. Every operation is built on
/// one overflow-reporting form (``sum(_:_:)``, ``product(_:_:)``, ``division(_:_:)``): the
/// throwing methods (``adding(_:)``, ``multiplied(by:)``, ``divided(by:)``,
/// ``checkedRoundedHalfUp(scale:)``) serve every computation that input can drive past those
/// bounds, and report ``ArithmeticOverflow`` for the command to be rejected; the operators serve
/// the bounded ones and stop the process on an overflow rather than return a wrong value.
public struct Rational: Sendable, Hashable {
    public let numerator: Int128
    public let denominator: Int128

    /// Builds `numerator / denominator` in lowest terms. `denominator` must not be zero.
    public init(_ numerator: Int128, _ denominator: Int128 = 1) {
        precondition(denominator != 0, "Rational with a zero denominator")
        self = Rational.expect(Rational.lowest(numerator, denominator), "a negative denominator")
    }

    /// `numerator / denominator` in lowest terms; nil when the sign cannot move to the numerator
    /// (a term of `Int128.min`). `denominator` must not be zero.
    static func lowest(_ numerator: Int128, _ denominator: Int128) -> Rational? {
        var n = numerator
        var d = denominator
        if d < 0 {
            guard n != .min, d != .min else { return nil }
            n = -n
            d = -d
        }
        if d == 1 || n == 0 { return Rational(reduced: n, n == 0 ? 1 : d) }
        let g = Int128(Rational.gcd(n.magnitude, d.magnitude))
        return Rational(reduced: Rational.quotient(n, g), Rational.quotient(d, g))
    }

    /// Stops the process: an operator overflowed where the input bounds promise it cannot.
    static func overflow(_ operation: String) -> Never {
        preconditionFailure("Rational \(operation) overflowed Int128 within the input bounds")
    }

    /// The value of an overflow-reporting form, for an operator: an overflow stops the process.
    @inline(__always)
    static func expect<T>(_ value: T?, _ operation: @autoclosure () -> String) -> T {
        guard let value else { overflow(operation()) }
        return value
    }

    /// Builds `numerator / denominator` whose terms are already lowest, skipping the gcd.
    init(reduced numerator: Int128, _ denominator: Int128) {
        self.numerator = numerator
        self.denominator = denominator
    }

    public init(_ integer: Int) {
        self.init(reduced: Int128(integer), 1)
    }

    public static let zero = Rational(reduced: 0, 1)
    public static let one = Rational(reduced: 1, 1)
    public static let hundred = Rational(reduced: 100, 1)

    public var isZero: Bool { numerator == 0 }
    public var isNegative: Bool { numerator < 0 }
    public var isInteger: Bool { denominator == 1 }

    /// The greatest common divisor: in 64-bit hardware division while both values fit, as
    /// almost every billing value does (128-bit division is a library call: `__umodti3` and
    /// `__divti3` were 12 % of the domain benchmark's samples, mostly inside Euclid's loop).
    static func gcd(_ a: UInt128, _ b: UInt128) -> UInt128 {
        if let a = UInt64(exactly: a), let b = UInt64(exactly: b) {
            // A unit price of 1/20, a quantity over 1: common, and Euclid's longest walk.
            if a == 1 || b == 1 { return 1 }
            return UInt128(euclid(a, b))
        }
        return euclid(a, b)
    }

    private static func euclid<T: FixedWidthInteger & UnsignedInteger>(_ a: T, _ b: T) -> T {
        var a = a
        var b = b
        while b != 0 {
            (a, b) = (b, a % b)
        }
        return a
    }

    /// `a / b` truncated, in one 64-bit division when both fit (on the development machine
    /// about 12 % cheaper than the library's 128-bit call for values this small).
    @inline(__always)
    static func quotient(_ a: Int128, _ b: Int128) -> Int128 {
        if let a = Int64(exactly: a), let b = Int64(exactly: b), a != .min {
            return Int128(a / b)
        }
        return a / b
    }

    /// `a.quotientAndRemainder(dividingBy: b)`, in 64 bits when both fit.
    @inline(__always)
    static func quotientAndRemainder(_ a: Int128, _ b: Int128) -> (quotient: Int128, remainder: Int128) {
        if let a = Int64(exactly: a), let b = Int64(exactly: b), a != .min {
            let (q, r) = a.quotientAndRemainder(dividingBy: b)
            return (Int128(q), Int128(r))
        }
        return a.quotientAndRemainder(dividingBy: b)
    }

    /// The largest integer not greater than the value.
    public var floor: Int128 {
        let (q, r) = Rational.quotientAndRemainder(numerator, denominator)
        return r < 0 ? q - 1 : q
    }

    /// The smallest integer not less than the value.
    public var ceiling: Int128 {
        let (q, r) = Rational.quotientAndRemainder(numerator, denominator)
        return r > 0 ? q + 1 : q
    }

    /// The value in units of `10^-scale`, rounded half up (away from zero on a tie).
    public func roundedHalfUp(scale: Int) -> Int128 {
        Rational.expect(rounded(scale: scale), "rounding")
    }

    /// ``roundedHalfUp(scale:)``, reporting an overflow instead of stopping.
    public func checkedRoundedHalfUp(scale: Int) throws(ArithmeticOverflow) -> Int128 {
        guard let units = rounded(scale: scale) else { throw ArithmeticOverflow("rounding", self) }
        return units
    }

    private func rounded(scale: Int) -> Int128? {
        // Cancel the power of ten against the denominator first: n × 10^s / d with both
        // reduced, so a value with many decimals does not overflow on its way to two.
        let power = Rational.powerOfTen(scale)
        let common = Int128(Rational.gcd(power.magnitude, denominator.magnitude))
        let (scaled, overflow) = numerator.multipliedReportingOverflow(by: Rational.quotient(power, common))
        guard !overflow else { return nil }
        let divisor = Rational.quotient(denominator, common)
        let (q, r) = Rational.quotientAndRemainder(scaled, divisor)
        // |r| / d >= 1/2  <=>  2|r| >= d
        if 2 * r.magnitude >= divisor.magnitude {
            return scaled < 0 ? q - 1 : q + 1
        }
        return q
    }

    static func powerOfTen(_ exponent: Int) -> Int128 {
        precondition(exponent >= 0 && exponent <= 38, "10^\(exponent) is out of range")
        return powersOfTen[exponent]
    }

    /// 10^0 through 10^38, the largest power of ten an `Int128` holds.
    private static let powersOfTen: [Int128] = (0...38).map { exponent in
        (0..<exponent).reduce(Int128(1)) { power, _ in power * 10 }
    }

    public static func min(_ a: Rational, _ b: Rational) -> Rational { a < b ? a : b }
    public static func max(_ a: Rational, _ b: Rational) -> Rational { a < b ? b : a }
}

extension Rational: Comparable {
    public static func < (lhs: Rational, rhs: Rational) -> Bool {
        if lhs.denominator == rhs.denominator {
            return lhs.numerator < rhs.numerator
        }
        if let left = multiply(lhs.numerator, rhs.denominator), let right = multiply(rhs.numerator, lhs.denominator) {
            return left < right
        }
        // Compared in 256 bits when a cross product leaves Int128: a comparison never overflows.
        let left = lhs.numerator.multipliedFullWidth(by: rhs.denominator)
        let right = rhs.numerator.multipliedFullWidth(by: lhs.denominator)
        return left.high < right.high || (left.high == right.high && left.low < right.low)
    }
}

extension Rational: AdditiveArithmetic {
    public static func + (lhs: Rational, rhs: Rational) -> Rational {
        Rational.expect(sum(lhs, rhs), "+")
    }

    /// `lhs + rhs`, or nil when a term would overflow `Int128`.
    static func sum(_ lhs: Rational, _ rhs: Rational) -> Rational? {
        if rhs.numerator == 0 { return lhs }
        if lhs.numerator == 0 { return rhs }
        if lhs.denominator == rhs.denominator {
            return add(lhs.numerator, rhs.numerator).flatMap { lowest($0, lhs.denominator) }
        }
        // Over the least common denominator, not the product: sums of decimals stay
        // decimal-sized. With both terms lowest, only a factor of the denominators' gcd can
        // divide the new numerator (Knuth, TAOCP 4.5.1), so that small gcd is the only one left
        // to take; with coprime denominators the sum is lowest as it stands.
        let common = Int128(gcd(lhs.denominator.magnitude, rhs.denominator.magnitude))
        if common == 1 {
            guard let left = multiply(lhs.numerator, rhs.denominator),
                let right = multiply(rhs.numerator, lhs.denominator), let numerator = add(left, right),
                let denominator = multiply(lhs.denominator, rhs.denominator)
            else { return nil }
            return Rational(reduced: numerator, denominator)
        }
        let lhsFactor = quotient(rhs.denominator, common)
        let rhsFactor = quotient(lhs.denominator, common)
        guard let left = multiply(lhs.numerator, lhsFactor), let right = multiply(rhs.numerator, rhsFactor),
            let numerator = add(left, right)
        else { return nil }
        if numerator == 0 { return .zero }
        let cancel = Int128(gcd(numerator.magnitude, common.magnitude))
        return multiply(rhsFactor, quotient(rhs.denominator, cancel)).map {
            Rational(reduced: quotient(numerator, cancel), $0)
        }
    }

    @inline(__always)
    static func add(_ a: Int128, _ b: Int128) -> Int128? {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : value
    }

    @inline(__always)
    static func multiply(_ a: Int128, _ b: Int128) -> Int128? {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : value
    }

    public static func - (lhs: Rational, rhs: Rational) -> Rational {
        lhs + (-rhs)
    }

    public static prefix func - (value: Rational) -> Rational {
        Rational.expect(negated(value), "negation")
    }

    static func negated(_ value: Rational) -> Rational? {
        value.numerator == .min ? nil : Rational(reduced: -value.numerator, value.denominator)
    }
}

extension Rational {
    public static func * (lhs: Rational, rhs: Rational) -> Rational {
        Rational.expect(product(lhs, rhs), "*")
    }

    /// `lhs × rhs`, or nil when a term would overflow `Int128`.
    static func product(_ lhs: Rational, _ rhs: Rational) -> Rational? {
        if lhs.numerator == 0 || rhs.numerator == 0 { return .zero }
        // Cross-cancel before multiplying, so the product's terms are already lowest.
        let a = Int128(gcd(lhs.numerator.magnitude, rhs.denominator.magnitude))
        let b = Int128(gcd(rhs.numerator.magnitude, lhs.denominator.magnitude))
        guard let numerator = multiply(quotient(lhs.numerator, a), quotient(rhs.numerator, b)),
            let denominator = multiply(quotient(lhs.denominator, b), quotient(rhs.denominator, a))
        else { return nil }
        return Rational(reduced: numerator, denominator)
    }

    public static func * (lhs: Rational, rhs: Int) -> Rational {
        Rational.expect(product(lhs, Rational(rhs)), "*")
    }

    /// Division; `rhs` must not be zero.
    public static func / (lhs: Rational, rhs: Rational) -> Rational {
        Rational.expect(division(lhs, rhs), "/")
    }

    /// `lhs / rhs`, or nil when a term would overflow `Int128`; `rhs` must not be zero.
    static func division(_ lhs: Rational, _ rhs: Rational) -> Rational? {
        precondition(rhs.numerator != 0, "Rational division by zero")
        // Dividing is multiplying by the reciprocal, whose terms are lowest as they stand.
        guard let reciprocal = lowest(rhs.denominator, rhs.numerator) else { return nil }
        return product(lhs, reciprocal)
    }

    public static func / (lhs: Rational, rhs: Int) -> Rational {
        lhs / Rational(rhs)
    }

    public static func += (lhs: inout Rational, rhs: Rational) { lhs = lhs + rhs }
    public static func -= (lhs: inout Rational, rhs: Rational) { lhs = lhs - rhs }

    /// `self` percent of `value`: `value × self / 100`.
    public func percent(of value: Rational) -> Rational {
        value * self / Rational.hundred
    }
}

extension Sequence where Element == Rational {
    /// The exact sum.
    public func sum() -> Rational {
        reduce(Rational.zero, +)
    }
}

/// A computation that would leave `Int128`: what the command driving it gets rejected for.
public struct ArithmeticOverflow: Error, Sendable, CustomStringConvertible {
    public let operation: String
    /// One operand, as decimal text where it has one, for the rejection's message.
    public let operand: String

    public init(_ operation: String, _ operand: Rational) {
        self.operation = operation
        self.operand = operand.exactDecimalText ?? "\(operand.numerator)/\(operand.denominator)"
    }

    public var description: String { "the amounts are too large to compute exactly (\(operation) of \(operand))" }
}

extension Rational {
    /// `self + other`, reporting an overflow instead of stopping.
    public func adding(_ other: Rational) throws(ArithmeticOverflow) -> Rational {
        guard let sum = Rational.sum(self, other) else { throw ArithmeticOverflow("a sum", self) }
        return sum
    }

    /// `self × other`, reporting an overflow instead of stopping.
    public func multiplied(by other: Rational) throws(ArithmeticOverflow) -> Rational {
        guard let product = Rational.product(self, other) else { throw ArithmeticOverflow("a product", self) }
        return product
    }

    /// `self / other` (`other` not zero), reporting an overflow instead of stopping.
    public func divided(by other: Rational) throws(ArithmeticOverflow) -> Rational {
        guard let quotient = Rational.division(self, other) else { throw ArithmeticOverflow("a quotient", self) }
        return quotient
    }

    /// `self` percent of `value`, reporting an overflow instead of stopping.
    public func checkedPercent(of value: Rational) throws(ArithmeticOverflow) -> Rational {
        try value.multiplied(by: self).divided(by: .hundred)
    }
}
