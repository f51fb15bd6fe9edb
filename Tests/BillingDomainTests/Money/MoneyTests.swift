import BillingDomain
import Testing

@Suite("Money in ISO 4217 minor units")
struct MoneyTests {
    struct MinorUnitCase: Sendable {
        let code: String
        let minorUnit: Int
    }

    @Test(
        "Minor units follow ISO 4217",
        arguments: [
            MinorUnitCase(code: "JPY", minorUnit: 0), MinorUnitCase(code: "KRW", minorUnit: 0),
            MinorUnitCase(code: "USD", minorUnit: 2), MinorUnitCase(code: "INR", minorUnit: 2),
            MinorUnitCase(code: "EUR", minorUnit: 2), MinorUnitCase(code: "GBP", minorUnit: 2),
            MinorUnitCase(code: "BHD", minorUnit: 3), MinorUnitCase(code: "KWD", minorUnit: 3),
            MinorUnitCase(code: "CLF", minorUnit: 4),
        ])
    func minorUnits(_ example: MinorUnitCase) throws {
        let currency = try #require(Currency(code: example.code))
        #expect(currency.minorUnit == example.minorUnit)
        #expect(currency.code == example.code)
    }

    @Test("Currencies are equal by code and order by it")
    func codeOrder() throws {
        let codes = ["AED", "BHD", "CLF", "INR", "JPY", "USD", "ZWG"]
        let currencies = try codes.map { try #require(Currency(code: $0)) }
        #expect(currencies.shuffled().sorted(by: Currency.byCode).map(\.code) == codes)
        #expect(Currency(code: "INR") == inr && inr != usd && Set(currencies).count == codes.count)
    }

    @Test("Unknown or malformed currency codes are refused", arguments: ["XYZ", "usd", "US", "USDD", ""])
    func unknownCurrency(_ code: String) {
        #expect(Currency(code: code) == nil)
    }

    @Test("Rounding to the minor unit, half up, in each currency")
    func roundingPerCurrency() {
        let exact = dec("1234.5675")
        #expect(Money.rounding(exact, in: jpy).decimalText == "1235")
        #expect(Money.rounding(exact, in: usd).decimalText == "1234.57")
        #expect(Money.rounding(exact, in: bhd).decimalText == "1234.568")
        #expect(Money.rounding(dec("-0.005"), in: usd).decimalText == "-0.01")
    }

    @Test("Text with more precision than the currency holds is refused, not rounded")
    func parsingPrecision() {
        #expect(Money(decimal: "10.50", currency: usd)?.minorUnits == 1050)
        #expect(Money(decimal: "10.5", currency: usd)?.minorUnits == 1050)
        #expect(Money(decimal: "10.505", currency: usd) == nil)
        #expect(Money(decimal: "10.5", currency: jpy) == nil)
        #expect(Money(decimal: "1.250", currency: bhd)?.decimalText == "1.250")
    }

    @Test("Adding two currencies is an error")
    func currencyMixUp() throws {
        #expect(throws: CurrencyMismatch(expected: inr, found: usd)) {
            try money("1.00").adding(money("1.00", usd))
        }
        #expect(try money("1.10").adding(money("2.25")) == money("3.35"))
        #expect(throws: CurrencyMismatch.self) {
            try [money("1.00"), money("1.00", usd)].total(in: inr)
        }
    }
}
