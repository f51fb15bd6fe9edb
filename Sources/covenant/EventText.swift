import CovenantMessages

/// Events as people read them in a terminal; invoices in full.
enum EventText {
    static func render(_ event: CloudEvent) -> String {
        guard event.type == "invoice.ready" else {
            return "\(event.type) [\(event.tenantId)] \(String(decoding: event.data.serialized(), as: UTF8.self))"
        }
        return "invoice.ready " + invoice(event.data)
    }

    /// An invoice's `invoice.ready` data: its header, each line, the totals.
    static func invoice(_ data: JSONValue) -> String {
        func text(_ value: JSONValue?) -> String {
            if case .string(let string) = value { return string }
            return "-"
        }
        var lines = [
            "\(text(data["invoice_id"]))  customer \(text(data["customer_id"]))  issued \(text(data["issue_date"]))  \(text(data["currency"]))"
        ]
        if case .array(let items) = data["lines"] {
            for item in items {
                let late = item["late"] == .bool(true) ? " (late)" : ""
                lines.append(
                    "  \(text(item["type"]))\(late)  \(text(item["service_id"]))  \(text(item["description"]))")
                lines.append(
                    "      gross \(text(item["gross_amount"]))  discount \(text(item["discount_amount"]))  amount \(text(item["amount"]))"
                )
            }
        }
        lines.append(
            "  subtotal \(text(data["subtotal"]))  discount \(text(data["discount_total"]))  total \(text(data["total"]))"
        )
        return lines.joined(separator: "\n")
    }
}
