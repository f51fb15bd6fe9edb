/// A customer's invoice in one currency, dated the day it is issued. Final once issued:
/// corrections come as lines on later invoices.
public struct Invoice: Sendable, Hashable {
    public private(set) var id: String
    public let customerId: String
    public let currency: Currency
    public let issueDate: CalendarDate
    public private(set) var lines: [InvoiceLine]
    /// The tenant's legal number, once final (``finalised(number:dueDate:taxes:)``).
    public private(set) var number: String?
    public private(set) var dueDate: CalendarDate?
    /// Each line's taxes, in the order of ``lines``: empty when the invoice bears no tax.
    public private(set) var lineTaxes: [[LineTax]] = []
    /// Whom it is billed to, as the customer's profile stood when it became final
    /// (``billed(to:settingsRevision:)``); nil for a customer without a profile.
    public private(set) var billedTo: BilledCustomer?
    /// The revision of the tenant's invoicing settings it became final under (its documents
    /// show the tenant as it stood then); nil when the tenant had none.
    public private(set) var settingsRevision: Int64?

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
    /// Σ amounts: the lines' net amounts, before tax.
    public var netTotal: Money { sum(\.amount) }
    /// Σ every line's taxes.
    public var taxTotal: Money {
        Money(minorUnits: lineTaxes.reduce(0) { $0 + $1.reduce(0) { $0 + $1.amount.minorUnits } }, currency: currency)
    }
    /// What the customer owes: Σ amounts + the tax total (with no taxes, Σ amounts).
    public var total: Money { Money(minorUnits: netTotal.minorUnits + taxTotal.minorUnits, currency: currency) }
    /// What is due at issue: the total, or zero when the total is below zero (the rest is the
    /// customer's credit).
    public var amountDue: Money { total.isNegative ? .zero(currency) : total }

    /// Each tax's total over the lines, in the order the taxes first appear: what a document
    /// lists under the subtotal.
    public var taxTotals: [LineTax] {
        var totals: [LineTax] = []
        for tax in lineTaxes.joined() {
            if let index = totals.firstIndex(where: { $0.code == tax.code && $0.rate == tax.rate }) {
                let sum = Money(minorUnits: totals[index].amount.minorUnits + tax.amount.minorUnits, currency: currency)
                totals[index] = LineTax(code: tax.code, rate: tax.rate, amount: sum)
            } else {
                totals.append(tax)
            }
        }
        return totals
    }

    /// The invoice made final: its legal number, its due date, and each of `taxes` on each
    /// line's net amount, rounded once per line and tax. No taxes: the amounts stay as they were.
    public func finalised(
        number: String, dueDate: CalendarDate, taxes: [TaxRate]
    ) throws(ArithmeticOverflow)
        -> Invoice
    {
        var final = self
        final.number = number
        final.dueDate = dueDate
        final.lineTaxes = []
        if !taxes.isEmpty {
            for line in lines {
                var onLine: [LineTax] = []
                for tax in taxes {
                    onLine.append(LineTax(code: tax.code, rate: tax.rate, amount: try tax.tax(on: line.amount)))
                }
                final.lineTaxes.append(onLine)
            }
        }
        return final
    }

    /// The invoice with what its documents show of the parties as they stood when it became
    /// final: the customer's name, address and tax id, and the revision of the tenant's settings.
    public func billed(to profile: CustomerProfile, settingsRevision: Int64?) -> Invoice {
        var billed = self
        billed.billedTo = BilledCustomer(profile)
        billed.settingsRevision = settingsRevision
        return billed
    }

    /// The invoice as a customer grouping `grouping` receives it: itself (`combined`), or one
    /// invoice per service of its lines, in the order each service first appears, each line
    /// (a penalty too) on the invoice of the service it is charged to, with the id
    /// `<id>-<service>` (`per_service`). Issued invoices only: before ``finalised(number:dueDate:taxes:)``.
    public func grouped(_ grouping: CustomerProfile.Grouping) -> [Invoice] {
        guard grouping == .perService else { return [self] }
        var services: [String] = []
        var lines: [String: [InvoiceLine]] = [:]
        for line in self.lines {
            if lines[line.serviceId] == nil { services.append(line.serviceId) }
            lines[line.serviceId, default: []].append(line)
        }
        return services.map { service in
            var part = self
            part.id = "\(id)-\(service)"
            part.lines = lines[service] ?? []
            part.lineTaxes = []
            part.number = nil
            part.dueDate = nil
            return part
        }
    }

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
