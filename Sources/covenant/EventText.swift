import CovenantMessages
import DocumentsWorker

/// Events as people read them in a terminal; invoices in full, their documents in one line.
enum EventText {
    static func render(_ event: CloudEvent) -> String {
        switch event.type {
        case "invoice.ready": "invoice.ready " + invoice(event.data)
        case DocumentsHandler.documentReady: "\(DocumentsHandler.documentReady) " + documents(event.data)
        default: "\(event.type) [\(event.tenantId)] \(String(decoding: event.data.serialized(), as: UTF8.self))"
        }
    }

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case .string(let string)?, .number(let string)?: string
        default: "-"
        }
    }

    /// An invoice's `invoice.ready` data: its header, each line with its taxes, the totals.
    static func invoice(_ data: JSONValue) -> String {
        var lines = [
            "\(text(data["invoice_id"]))  \(text(data["number"]))  customer \(text(data["customer_id"]))  issued \(text(data["issue_date"]))  due \(text(data["due_date"]))  \(text(data["currency"]))"
        ]
        if case .array(let items) = data["lines"] {
            for item in items {
                let late = item["late"] == .bool(true) ? " (late)" : ""
                lines.append(
                    "  \(text(item["type"]))\(late)  \(text(item["service_id"]))  \(text(item["description"]))")
                var figures =
                    "      gross \(text(item["gross_amount"]))  discount \(text(item["discount_amount"]))  amount \(text(item["amount"]))"
                if case .array(let taxes)? = item["taxes"] {
                    for tax in taxes {
                        figures += "  \(text(tax["code"])) \(text(tax["rate"]))% \(text(tax["amount"]))"
                    }
                }
                lines.append(figures)
            }
        }
        lines.append(
            "  subtotal \(text(data["subtotal"]))  discount \(text(data["discount_total"]))  tax \(text(data["tax_total"]))  total \(text(data["total"]))  due \(text(data["amount_due"]))"
        )
        return lines.joined(separator: "\n")
    }

    /// `invoice.document_ready`: `<invoice> <number>`, then each document's type, size and digest.
    static func documents(_ data: JSONValue) -> String {
        var text = "\(Self.text(data["invoice_id"])) \(Self.text(data["number"]))"
        if case .array(let documents)? = data["documents"] {
            for document in documents {
                text +=
                    "  \(Self.text(document["media_type"])) \(Self.text(document["bytes"])) bytes sha256 \(Self.text(document["sha256"]).prefix(12))…"
            }
        }
        return text
    }
}
