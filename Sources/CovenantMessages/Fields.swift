public import BillingDomain
import Foundation

/// Typed access to a JSON object's members, each problem a rejection naming the field.
public struct Fields: Sendable {
    public let members: JSONObject
    /// Where these members sit (`data.contract.renewal`), for messages.
    public let path: String

    public init(_ value: JSONValue?, path: String) throws(Rejection) {
        guard case .object(let members) = value else {
            throw Rejection(.invalidMessage, "\(path) must be a JSON object")
        }
        self.members = members
        self.path = path
    }

    func name(_ field: String) -> String { "\(path).\(field)" }

    public func has(_ field: String) -> Bool {
        if let value = members[field], value != .null { return true }
        return false
    }

    public func string(_ field: String) throws(Rejection) -> String {
        guard let value = try optionalString(field) else {
            throw Rejection(.invalidMessage, "\(name(field)) is missing")
        }
        return value
    }

    public func optionalString(_ field: String) throws(Rejection) -> String? {
        guard has(field) else { return nil }
        guard case .string(let text) = members[field], !text.isEmpty else {
            throw Rejection(.invalidMessage, "\(name(field)) must be a non-empty string")
        }
        guard text.utf8.count <= 1024 else {
            throw Rejection(.invalidMessage, "\(name(field)) is longer than 1024 bytes")
        }
        if Identifier.isNamed(field) { try Identifier.check(text, name(field)) }
        return text
    }

    public func bool(_ field: String) throws(Rejection) -> Bool {
        guard case .bool(let value) = members[field] else {
            throw Rejection(.invalidMessage, "\(name(field)) must be true or false")
        }
        return value
    }

    /// A JSON integer (no fraction, no exponent) within `range`.
    public func int(_ field: String, in range: ClosedRange<Int>) throws(Rejection) -> Int {
        guard let value = try optionalInt(field, in: range) else {
            throw Rejection(.invalidMessage, "\(name(field)) is missing")
        }
        return value
    }

    public func optionalInt(_ field: String, in range: ClosedRange<Int>) throws(Rejection) -> Int? {
        guard has(field) else { return nil }
        guard case .number(let text) = members[field], let value = Int(text) else {
            throw Rejection(.invalidMessage, "\(name(field)) must be a whole number")
        }
        guard range.contains(value) else {
            throw Rejection(
                .invalidMessage, "\(name(field)) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    /// A decimal string (`"548.39"`); the interface carries money and quantities as strings.
    public func decimal(_ field: String, code: RejectionCode = .invalidMessage) throws(Rejection) -> Rational {
        guard let value = try optionalDecimal(field, code: code) else {
            throw Rejection(code, "\(name(field)) is missing")
        }
        return value
    }

    public func optionalDecimal(_ field: String, code: RejectionCode = .invalidMessage) throws(Rejection) -> Rational? {
        guard has(field) else { return nil }
        guard case .string(let text) = members[field], let value = Rational(decimal: text) else {
            throw Rejection(code, "\(name(field)) must be a decimal string such as \"12.50\"")
        }
        return value
    }

    /// A `YYYY-MM-DD` date.
    public func date(_ field: String) throws(Rejection) -> CalendarDate {
        let text = try string(field)
        guard let date = CalendarDate(iso: text) else {
            throw Rejection(.invalidMessage, "\(name(field)) must be a date YYYY-MM-DD that exists")
        }
        return date
    }

    public func object(_ field: String) throws(Rejection) -> Fields {
        try Fields(members[field], path: name(field))
    }

    public func optionalObject(_ field: String) throws(Rejection) -> Fields? {
        has(field) ? try object(field) : nil
    }

    public func array(_ field: String) throws(Rejection) -> [JSONValue] {
        guard case .array(let items) = members[field] else {
            throw Rejection(.invalidMessage, "\(name(field)) must be a list")
        }
        guard items.count <= 1000 else { throw Rejection(.invalidMessage, "\(name(field)) has more than 1000 items") }
        return items
    }

    public func optionalArray(_ field: String) throws(Rejection) -> [JSONValue]? {
        has(field) ? try array(field) : nil
    }

    /// Each item of a list as an object.
    public func objects(_ field: String) throws(Rejection) -> [Fields] {
        var result: [Fields] = []
        for (index, item) in try array(field).enumerated() {
            result.append(try Fields(item, path: "\(name(field))[\(index)]"))
        }
        return result
    }

    public func strings(_ field: String) throws(Rejection) -> [String] {
        var result: [String] = []
        for item in try array(field) {
            guard case .string(let text) = item, !text.isEmpty else {
                throw Rejection(.invalidMessage, "\(name(field)) must be a list of non-empty strings")
            }
            if Identifier.isNamed(field) { try Identifier.check(text, "\(name(field))[\(result.count)]") }
            result.append(text)
        }
        return result
    }

    /// One of the cases of a string enumeration.
    public func choice<Choice: RawRepresentable & CaseIterable>(
        _ field: String, of type: Choice.Type
    ) throws(Rejection)
        -> Choice where Choice.RawValue == String
    {
        let text = try string(field)
        guard let value = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw Rejection(.invalidMessage, "\(name(field)) must be one of \(allowed), not \(text)")
        }
        return value
    }
}

extension Fields {
    /// An ISO 4217 currency code.
    public func currency(_ field: String) throws(Rejection) -> Currency {
        let code = try string(field)
        guard let currency = Currency(code: code) else { throw Rejection(.invalidMessage, "unknown currency \(code)") }
        return currency
    }

    /// An amount of `currency` with at most its minor-unit digits.
    public func money(_ field: String, in currency: Currency) throws(Rejection) -> Money {
        guard let amount = Money(decimal: try string(field), currency: currency) else {
            throw Rejection(.invalidMessage, "\(name(field)) is not an amount of \(currency)")
        }
        return amount
    }
}

/// Ids are compared byte for byte, as the stores compare their keys, while Swift's `==` (and so
/// every dictionary keyed by an id) takes canonically equivalent text as equal: "é" as one
/// code point, and "e" with a combining accent. So an id must be in Unicode Normalization Form C
/// (NFC), in which two ids that read the same are the same bytes; any other is `invalid_message`.
/// Ids are the envelope's `id` and `tenantid`, every field named `id`, `…_id` or `…_ids` (a
/// commitment's `id`, say), and `metric`.
public enum Identifier {
    /// Whether a field of that name holds an id (or a list of them).
    public static func isNamed(_ field: String) -> Bool {
        field.hasSuffix("_id") || field.hasSuffix("_ids") || field == "id" || field == "metric"
    }

    /// `text` in NFC (ASCII, as it is).
    public static func normalized(_ text: String) -> String {
        text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
    }

    /// Whether `text` is in NFC.
    public static func isNormalized(_ text: String) -> Bool {
        normalized(text).utf8.elementsEqual(text.utf8)
    }

    /// Why `text`, the id in `field`, is refused; nil when it is in NFC.
    static func problem(_ text: String, _ field: String) -> String? {
        isNormalized(text) ? nil : "\(field) must be in Unicode NFC: ids are compared byte for byte"
    }

    /// Throws `invalid_message` naming `field` when `text` is not in NFC.
    static func check(_ text: String, _ field: String) throws(Rejection) {
        if let problem = problem(text, field) { throw Rejection(.invalidMessage, problem) }
    }
}
