import BillingDomain

/// An invoice as a person reads it in a terminal.
enum InvoiceText {
    static func render(_ invoice: Invoice) -> String {
        var text = "\(invoice.id)  customer \(invoice.customerId)  issued \(invoice.issueDate)  \(invoice.currency)\n"
        for line in invoice.lines {
            let late = line.late ? " (late)" : ""
            let quantity = line.quantity.map { "  qty \($0)" } ?? ""
            let outcome =
                line.commitment.map {
                    "  committed \($0.committed.decimalText(scale: 2)) actual \($0.actual.decimalText(scale: 2))"
                } ?? ""
            text += "  \(line.kind.rawValue)\(late)  \(line.serviceId)  \(line.description)\(quantity)\(outcome)\n"
            text += "      gross \(line.grossAmount.decimalText)  discount \(line.discountAmount.decimalText)"
            text += "  amount \(line.amount.decimalText)\n"
        }
        text += "  subtotal \(invoice.subtotal.decimalText)  discount \(invoice.discountTotal.decimalText)"
        text += "  total \(invoice.total.decimalText)\n"
        return text
    }
}
