/// An ISO 4217 currency and the number of digits of its minor unit.
public struct Currency: Sendable, Hashable, CustomStringConvertible {
    /// The code's three ASCII letters in one word (`A << 16 | B << 8 | C`), so that currencies
    /// order as their codes do: every amount carries its currency, and a word rather than a
    /// string keeps amounts small and their currency checks one comparison.
    private let letters: UInt32
    private let digits: MinorUnitDigits

    /// The minor units ISO 4217 has. An enum, not an integer: its unused values let an optional
    /// amount need no byte of its own (and a debug build of Swift 6.3 mis-aligns an `Int128`
    /// beside a bare `UInt32` with such a byte, crashing as it passes an optional amount).
    private enum MinorUnitDigits: UInt8 {
        case zero = 0
        case two = 2
        case three = 3
        case four = 4
    }

    /// The ISO 4217 alphabetic code, `INR`.
    public var code: String {
        String(unsafeUninitializedCapacity: 3) { buffer in
            for position in 0..<3 {
                buffer[position] = UInt8(truncatingIfNeeded: letters >> (16 - 8 * position))
            }
            return 3
        }
    }

    /// Digits after the decimal point: JPY 0, INR and USD 2, BHD 3.
    public var minorUnit: Int { Int(digits.rawValue) }

    /// The currency of an ISO 4217 alphabetic code, or `nil` when the code is not an active one.
    public init?(code: String) {
        guard code.utf8.count == 3,
            Currency.twoDigitCodes.contains(code)
                || Currency.otherMinorUnits[code] != nil,
            let digits = MinorUnitDigits(rawValue: Currency.otherMinorUnits[code] ?? 2)
        else { return nil }
        self.letters = code.utf8.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        self.digits = digits
    }

    /// Orders currencies as their codes order.
    public static func byCode(_ lhs: Currency, _ rhs: Currency) -> Bool { lhs.letters < rhs.letters }

    public var description: String { code }

    /// Active ISO 4217 codes whose minor unit is not two digits.
    private static let otherMinorUnits: [String: UInt8] = [
        "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
        "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
        "XPF": 0,
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
        "CLF": 4, "UYW": 4,
    ]

    /// Active ISO 4217 codes with a two-digit minor unit.
    private static let twoDigitCodes: Set<String> = [
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
        "BDT", "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
        "CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
        "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
        "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR",
        "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
        "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
        "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
        "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK",
        "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
        "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED",
        "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
    ]
}
