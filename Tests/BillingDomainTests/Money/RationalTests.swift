import BillingDomain
import Testing

@Suite("Exact rationals and decimal text")
struct RationalTests {
    struct ParseCase: Sendable, CustomTestStringConvertible {
        let text: String
        let expected: String?
        var testDescription: String { "\"\(text)\"" }
    }

    @Test(
        "Plain decimal text parses exactly; anything else is refused",
        arguments: [
            ParseCase(text: "548.39", expected: "548.39"),
            ParseCase(text: "0", expected: "0"),
            ParseCase(text: "-0.50", expected: "-0.5"),
            ParseCase(text: "1000", expected: "1000"),
            ParseCase(text: "0.000000000001", expected: "0.000000000001"),
            ParseCase(text: "999999999999999999", expected: "999999999999999999"),
            ParseCase(text: "", expected: nil),
            ParseCase(text: "-", expected: nil),
            ParseCase(text: "1.", expected: nil),
            ParseCase(text: ".5", expected: nil),
            ParseCase(text: "1e5", expected: nil),
            ParseCase(text: "+1", expected: nil),
            ParseCase(text: " 1", expected: nil),
            ParseCase(text: "1.2.3", expected: nil),
            ParseCase(text: "1,5", expected: nil),
            ParseCase(text: "NaN", expected: nil),
            ParseCase(text: "0.0000000000001", expected: nil),  // 13 fraction digits
            ParseCase(text: "1000000000000000000", expected: nil),  // 19 integer digits
        ])
    func parsing(_ example: ParseCase) {
        #expect(Rational(decimal: example.text)?.exactDecimalText == example.expected)
    }

    struct RoundCase: Sendable {
        let value: Rational
        let scale: Int
        let expected: String
    }

    @Test(
        "Half up rounds ties away from zero",
        arguments: [
            RoundCase(value: Rational(17_000, 31), scale: 2, expected: "548.39"),  // 548.387…
            RoundCase(value: Rational(1_700, 31), scale: 2, expected: "54.84"),  // 54.838…
            RoundCase(value: Rational(5, 1000), scale: 2, expected: "0.01"),  // 0.005 tie
            RoundCase(value: Rational(-5, 1000), scale: 2, expected: "-0.01"),  // tie, negative
            RoundCase(value: Rational(4999, 1_000_000), scale: 2, expected: "0.00"),
            RoundCase(value: Rational(25, 10), scale: 0, expected: "3"),
            RoundCase(value: Rational(-25, 10), scale: 0, expected: "-3"),
            RoundCase(value: Rational(1, 3), scale: 3, expected: "0.333"),
            RoundCase(value: Rational(2, 3), scale: 3, expected: "0.667"),
        ])
    func rounding(_ example: RoundCase) {
        #expect(example.value.decimalText(scale: example.scale) == example.expected)
    }

    @Test("Arithmetic stays exact where binary floating point does not")
    func exactness() {
        // 0.1 + 0.2 is exactly 0.3 here, unlike in Double.
        #expect(dec("0.1") + dec("0.2") == dec("0.3"))
        // A third, three times, is exactly one.
        #expect(Rational(1, 3) * 3 == .one)
        #expect(Rational(6, 4) == Rational(3, 2))
        #expect(Rational(3, -4) == Rational(-3, 4))
        #expect(Rational(1, 3).exactDecimalText == nil)
        #expect((Rational(7, 2)).floor == 3 && Rational(7, 2).ceiling == 4)
        #expect((Rational(-7, 2)).floor == -4 && Rational(-7, 2).ceiling == -3)
        #expect(dec("10").percent(of: dec("548.39")) == dec("54.839"))
    }

    @Test("Reduction, sums, products and rounding agree with plain 128-bit arithmetic, inside 64 bits and beyond")
    func shortcuts() {
        // A fixed-seed generator: the same values on every run.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(below bound: Int128) -> Int128 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let high = UInt128(state) << 64
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int128((high | UInt128(state)) % UInt128(bound))
        }
        func euclid(_ a: UInt128, _ b: UInt128) -> Int128 {
            var (a, b) = (a, b)
            while b != 0 { (a, b) = (b, a % b) }
            return Int128(a)
        }
        var mismatches = 0
        for index in 0..<20_000 {
            // Every other pair needs more than 64 bits.
            let (top, bottom): (Int128, Int128) =
                index % 2 == 0
                ? (1_000_000_000_000_000, 1_000_000)
                : (1_000_000_000_000_000_000_000_000_000, 1_000_000_000_000_000_000_000)
            let n = next(below: 2 * top) - top
            let d = next(below: bottom) + 1
            let value = Rational(n, d)
            let g = euclid(n.magnitude, d.magnitude)
            if value.numerator != n / g || value.denominator != d / g { mismatches += 1 }
            let scaled = n * 100
            let (q, r) = scaled.quotientAndRemainder(dividingBy: d)
            let cents = 2 * r.magnitude >= d.magnitude ? (scaled < 0 ? q - 1 : q + 1) : q
            if value.roundedHalfUp(scale: 2) != cents { mismatches += 1 }
            if index % 2 == 0 {
                let other = Rational(next(below: 2 * top) - top, next(below: bottom) + 1)
                let sum = Rational(
                    value.numerator * other.denominator + other.numerator * value.denominator,
                    value.denominator * other.denominator)
                let product = Rational(
                    value.numerator * other.numerator, value.denominator * other.denominator)
                if value + other != sum || value * other != product { mismatches += 1 }
            }
        }
        // Billing-shaped values: powers of ten, days of months, zeros, integers and equal
        // denominators, where the sum and product take their shortcuts.
        let denominators: [Int128] = [1, 1, 2, 3, 4, 10, 20, 28, 30, 31, 100, 1_000, 1_000_000, 1_000_000_000]
        for _ in 0..<20_000 {
            func billingValue() -> Rational {
                let d = denominators[Int(next(below: Int128(denominators.count)))]
                let n = next(below: 3) == 0 ? 0 : next(below: 2_000_000_000_000) - 1_000_000_000_000
                return Rational(n, d)
            }
            let (value, other) = (billingValue(), billingValue())
            let sum = Rational(
                value.numerator * other.denominator + other.numerator * value.denominator,
                value.denominator * other.denominator)
            let product = Rational(value.numerator * other.numerator, value.denominator * other.denominator)
            if value + other != sum || value * other != product || value - other != value + (-other) {
                mismatches += 1
            }
            // Equal terms, and terms as reduced as the plain arithmetic leaves them.
            let total = value + other
            if total.denominator <= 0 || euclid(total.numerator.magnitude, total.denominator.magnitude) != 1 {
                mismatches += 1
            }
            if (value * other).denominator <= 0 || (value + value) != value * 2 || (value - value) != .zero {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
        // At the edge of the 64-bit shortcut: -2^63 / -1 is 2^63, which 64 bits cannot hold.
        let minimum = Int128(Int64.min)
        #expect(Rational(minimum, -1).numerator == -minimum)
        #expect(Rational(minimum, 1).floor == minimum && Rational(minimum, -2).ceiling == -minimum / 2)
        #expect(Rational(minimum + 1, 2) + Rational(minimum + 1, 2) == Rational(minimum + 1))
        #expect(Rational(minimum, 3).roundedHalfUp(scale: 0) == (minimum - 1) / 3)
    }
}
