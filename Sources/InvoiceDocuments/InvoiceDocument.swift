public import BillingDomain
public import CovenantMessages

/// What an invoice's document shows, as the data the template (`templates/invoice.typ`) and the
/// HTML read: every text already written out (amounts with their digits, dates, periods, the
/// tax columns), so the templates (Typst for the PDF, Mustache for the HTML) only lay it out.
/// Built from `invoice.ready`'s data (which names the customer as billed) and the tenant's
/// invoicing settings of the revision it became final under. Nothing in it names Covenant:
/// the document is the tenant's.
public enum InvoiceDocument {
    /// The accent colour of a tenant that chose none.
    public static let defaultAccent = "#334155"

    /// The document's data; an invoice that does not read as `invoice.ready` is `invalid_message`.
    public static func model(
        invoice data: JSONValue, settings: TenantBillingSettings
    ) throws(Rejection) -> JSONValue {
        let invoice = try Fields(data, path: "invoice")
        let currency = try invoice.currency("currency")
        let lines = try invoice.objects("lines")
        guard lines.count <= maximumLines else {
            throw Rejection(.invalidMessage, "invoice.lines: more than \(maximumLines) lines")
        }
        // Each line's taxes, and the tax columns: each (code, rate) in the order first met.
        var lineTaxes: [[(column: TaxColumn, amount: Money)]] = []
        var columns: [TaxColumn] = []
        var rows: [JSONValue] = []
        for line in lines {
            var taxes: [(column: TaxColumn, amount: Money)] = []
            for tax in try line.has("taxes") ? line.objects("taxes") : [] {
                let column = TaxColumn(code: try tax.string("code"), rate: try tax.string("rate"))
                if !columns.contains(column) { columns.append(column) }
                taxes.append((column, try tax.money("amount", in: currency)))
            }
            lineTaxes.append(taxes)
            rows.append(try row(line, currency: currency))
        }
        for index in rows.indices {
            let cells = columns.map { column in
                JSONValue.string(lineTaxes[index].first { $0.column == column }.map { amount($0.amount) } ?? "")
            }
            rows[index] = rows[index].adding(["taxes": .array(cells)])
        }
        let names = columns.map { column in
            "\(settings.taxes.first { $0.code == column.code }?.name ?? column.code.uppercased()) \(column.rate)%"
        }
        let discount = try invoice.money("discount_total", in: currency)
        let total = try invoice.money("total", in: currency)
        let taxTotal = try invoice.money("tax_total", in: currency)
        var totals: [JSONValue] = [pair("Subtotal", amount(try invoice.money("subtotal", in: currency)))]
        if !discount.isZero { totals.append(pair("Discount", amount(negated(discount)))) }
        if !columns.isEmpty {
            let net = Money(minorUnits: total.minorUnits - taxTotal.minorUnits, currency: currency)
            totals.append(pair("Net", amount(net)))
            for (index, column) in columns.enumerated() {
                let sum = lineTaxes.joined().filter { $0.column == column }.reduce(Int128(0)) {
                    $0 + $1.amount.minorUnits
                }
                totals.append(pair(names[index], amount(Money(minorUnits: sum, currency: currency))))
            }
        }
        let issue = try invoice.date("issue_date")
        let due = try invoice.date("due_date")
        let profile = settings.profile
        let customerId = try invoice.string("customer_id")
        let customer = try invoice.optionalObject("customer").map(billed)
        return .object([
            "title": .string(columns.isEmpty ? "Invoice" : "Tax invoice"),
            "accent": .string(profile.accentColor ?? defaultAccent), "logo": .string(profile.logo ?? ""),
            "seller": party(
                name: profile.legalName ?? "", address: profile.address, taxId: profile.taxId),
            "buyer": party(name: customer?.name ?? customerId, address: customer?.address, taxId: customer?.taxId),
            "number": .string(try invoice.string("number")), "issue_date": .string(issue.shownText),
            "due_date": .string(due.shownText), "currency": .string(currency.code),
            "tax_names": .array(names.map(JSONValue.string)), "lines": .array(rows), "totals": .array(totals),
            "total": .string("\(currency.code) \(amount(total))"),
            "amount_due": .string("\(currency.code) \(amount(try invoice.money("amount_due", in: currency)))"),
            "amount_due_label": .string("Amount due"),
            "terms": .string("Payment due by \(due.shownText) (\(issue.days(until: due)) days)."),
            "footer": .string(profile.footer ?? ""),
        ])
    }

    /// A tax column: one tax at one rate.
    struct TaxColumn: Equatable {
        let code: String
        let rate: String
    }

    /// The most lines a document is made of (a template's work grows with them).
    public static let maximumLines = 1000

    static func row(_ line: Fields, currency: Currency) throws(Rejection) -> JSONValue {
        let period = try line.object("period")
        let days = BillingPeriod(start: try period.date("start"), end: try period.date("end"))
        var quantity = ""
        if let figure = try line.optionalString("quantity") {
            quantity = try line.optionalString("metric").map { "\(figure) \($0)" } ?? figure
        }
        return .object([
            "description": .string(try line.string("description")), "period": .string(days.shownDays),
            "quantity": .string(quantity), "gross": .string(amount(try line.money("gross_amount", in: currency))),
            "discount": .string(amount(try line.money("discount_amount", in: currency))),
            "net": .string(amount(try line.money("amount", in: currency))),
        ])
    }

    static func party(name: String, address: PostalAddress?, taxId: String?) -> JSONValue {
        var lines: [String] = []
        if let address {
            lines.append(address.line1)
            if let line2 = address.line2 { lines.append(line2) }
            lines.append([address.postalCode, address.city].compactMap { $0 }.joined(separator: " "))
            if let region = address.region { lines.append(region) }
            lines.append(address.country)
        }
        // India's tax id is the GSTIN; elsewhere the plain words.
        let label = address?.country == "IN" ? "GSTIN" : "Tax id"
        return .object([
            "name": .string(name), "lines": .array(lines.map(JSONValue.string)), "tax_id": .string(taxId ?? ""),
            "tax_id_label": .string(label),
        ])
    }

    static func pair(_ label: String, _ value: String) -> JSONValue {
        .object(["label": .string(label), "value": .string(value)])
    }

    /// `invoice.ready`'s `customer`: the customer as billed.
    static func billed(_ fields: Fields) throws(Rejection) -> BilledCustomer {
        BilledCustomer(
            name: try fields.string("name"),
            address: try fields.optionalObject("address").map(BillingSettingsCoding.address),
            taxId: try fields.optionalString("tax_id"))
    }

    static func negated(_ money: Money) -> Money {
        Money(minorUnits: -money.minorUnits, currency: money.currency)
    }

    /// `1,186,998.70`, `−54.84` (a minus sign), `1,000` (JPY): the currency's digits, thousands
    /// grouped by commas.
    public static func amount(_ money: Money) -> String {
        let text = money.decimalText
        let negative = text.hasPrefix("-")
        let digits = negative ? text.dropFirst() : Substring(text)
        let whole = digits.prefix { $0 != "." }
        let fraction = digits.dropFirst(whole.count)
        var grouped = ""
        for (index, digit) in whole.enumerated() {
            if index > 0 && (whole.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return (negative ? "\u{2212}" : "") + grouped + fraction
    }
}
