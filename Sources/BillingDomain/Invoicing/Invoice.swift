/// A customer's invoice in one currency, dated the day it is issued. Final once issued:
/// corrections come as lines on later invoices.
public struct Invoice: Sendable, Hashable {
    public let id: String
    public let customerId: String
    public let currency: Currency
    public let issueDate: CalendarDate
    public let lines: [InvoiceLine]

    /// An invoice of lines all in `currency`; a line of another currency is an error.
    public init(
        id: String, customerId: String, currency: Currency, issueDate: CalendarDate,
        lines: [InvoiceLine]
    ) throws(CurrencyMismatch) {
        for index in lines.indices where lines[index].currency != currency {
            throw CurrencyMismatch(expected: currency, found: lines[index].currency)
        }
        self.id = id
        self.customerId = customerId
        self.currency = currency
        self.issueDate = issueDate
        self.lines = lines
    }

    /// Σ gross amounts.
    public var subtotal: Money { sum(\.grossAmount) }
    /// Σ discount amounts.
    public var discountTotal: Money { sum(\.discountAmount) }
    /// Σ amounts: what the customer owes.
    public var total: Money { sum(\.amount) }

    private func sum(_ value: (InvoiceLine) -> Money) -> Money {
        Money(minorUnits: lines.reduce(0) { $0 + value($1).minorUnits }, currency: currency)
    }

    /// The id of the invoice of a customer, currency and issue date:
    /// `INV-<customer>-<YYYYMMDD>-<CUR>`, with `-<n>` when a second invoice is issued the same
    /// day (a plan change and a billing run on one date). The fixed-width tail keeps ids of
    /// different customers distinct.
    public static func id(
        customerId: String, currency: Currency, issueDate: CalendarDate, sequence: Int = 1
    ) -> String {
        // INV- -YYYYMMDD -CUR -n: 4 + 1 + date + 1 + 3 + 1 + up to 19 digits.
        TextWriter.text(capacity: customerId.utf8.count + TextWriter.digitsCapacity(of: issueDate) + 29) {
            $0.write("INV-")
            $0.write(contentsOf: customerId)
            $0.write("-")
            $0.writeDigits(of: issueDate, separator: nil)
            $0.write("-")
            $0.write(contentsOf: currency.code)
            if sequence != 1 {
                $0.write("-")
                $0.write(sequence)
            }
        }
    }
}
