/// A tenant's legal numbers: its prefix and a sequence 1, 2, 3, …, zero-padded to at least six
/// digits (`INV-000001`). Taken in the order invoices become final; a number is taken only by
/// an invoice issued, so the numbers of a tenant are exactly 1…N.
public struct InvoiceNumbering: Sendable, Hashable {
    public static let defaultPrefix = "INV-"
    public static let defaultCreditNotePrefix = "CN-"
    /// Numbers taken so far: the next is `taken + 1`.
    public private(set) var taken: Int

    public init(taken: Int = 0) {
        self.taken = max(0, taken)
    }

    /// The next number with `prefix`.
    public mutating func next(prefix: String) -> String {
        taken += 1
        return Self.number(prefix: prefix, sequence: taken)
    }

    /// `prefix` and `sequence` padded with zeros to six digits.
    public static func number(prefix: String, sequence: Int) -> String {
        let digits = String(sequence)
        return prefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
