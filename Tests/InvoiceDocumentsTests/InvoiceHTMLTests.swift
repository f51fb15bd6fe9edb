import BillingDomain
import CovenantMessages
import Foundation
import InvoiceDocuments
import Testing

@Suite("An invoice's HTML: the repository's template, every value escaped")
struct InvoiceHTMLTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func html() throws -> InvoiceHTML {
        try InvoiceHTML(template: try String(contentsOfFile: "\(root)/templates/invoice.html", encoding: .utf8))
    }

    static func page(
        customer: String, settings: TenantBillingSettings = InvoiceDocumentTests.settings()
    ) throws
        -> String
    {
        let data = try #require(JSONValue.parse(Array(InvoiceDocumentTests.invoice.utf8))).adding([
            "customer": .object(["name": .string(customer), "tax_id": .string("29AAFFS9876K1Z2")])
        ])
        let model = try InvoiceDocument.model(invoice: data, settings: settings)
        return String(decoding: try html().render(model), as: UTF8.self)
    }

    @Test("Number, dates, every line and tax column, the totals, both parties, the brand; no word Covenant")
    func taxedInvoice() throws {
        let page = try Self.page(customer: "Globex Société")
        for expected in [
            "AC-000042", "1 Feb 2025", "3 Mar 2025", "Acme Cloud Pvt Ltd", "GSTIN: 29AABCA1234F1Z5",
            "Globex Société", "Tax id: 29AAFFS9876K1Z2", "<th>CGST 9%</th>", "<td>123,456.75</td>",
            "1234567.5 gb", "15–31 Jan 2025", "<td>SGST 9%</td><td>11,155.53</td>", "INR 146,261.36",
            "--accent: #0B6E4F;", "Payment due by 3 Mar 2025 (30 days). · Thank you for your business.",
        ] {
            #expect(page.contains(expected), "missing \(expected)")
        }
        #expect(!page.lowercased().contains("covenant"))
        #expect(!page.contains("{{") && !page.contains("<img"))  // every tag rendered; no logo given
    }

    @Test("A customer's name is text, never markup")
    func escaped() throws {
        let page = try Self.page(customer: #"<script>alert("x")</script> & 'Co'"#)
        #expect(!page.contains("<script>"))
        #expect(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;"))
    }

    @Test("What the tenant left empty is left out: no footer, no tax id line, no logo")
    func emptyLeftOut() throws {
        let page = try Self.page(customer: "Globex", settings: TenantBillingSettings())
        #expect(page.contains("Payment due by 3 Mar 2025 (30 days).</footer>"))
        #expect(!page.contains("GSTIN: 29AABCA") && !page.contains("<img"))
    }

    @Test("A template that writes a value unescaped is refused", arguments: ["{{{number}}}", "{{& number}}"])
    func unescapedRefused(tag: String) {
        #expect(throws: InvoiceHTML.Failure.self) { try InvoiceHTML(template: "<p>\(tag)</p>") }
    }
}
