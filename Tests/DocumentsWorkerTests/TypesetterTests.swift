import BillingDomain
import CovenantMessages
import DocumentsWorker
import Foundation
import InvoiceDocuments
import Testing

@Suite("The typesetter: invoices to PDF in a warm Typst process", .serialized)
struct TypesetterTests {
    /// The repository's root, from this file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func typesetter() -> Typesetter {
        let venv = ProcessInfo.processInfo.environment["COVENANT_TYPESETTER_VENV"] ?? "/opt/covenant/typesetter"
        var configuration = Typesetter.Configuration(
            python: "\(venv)/bin/python", script: "\(root)/scripts/typesetter",
            template: "\(root)/templates/invoice.typ",
            cacheDirectory: NSTemporaryDirectory() + "covenant-typesetter-\(UUID().uuidString)")
        configuration.timeout = .seconds(20)
        return Typesetter(configuration: configuration)
    }

    static let invoice = """
        {"invoice_id":"INV-cust-1-20250201-INR","customer_id":"cust-1","currency":"INR","issue_date":"2025-02-01",
         "lines":[{"type":"recurring","service_id":"vm-1","period":{"start":"2025-01-15","end":"2025-02-01"},
           "description":"VM Standard, 15–31 Jan 2025","gross_amount":"548.39","discount_amount":"54.84",
           "amount":"493.55","taxes":[{"code":"cgst","rate":"9","amount":"44.42"},{"code":"sgst","rate":"9","amount":"44.42"}]}],
         "subtotal":"548.39","discount_total":"54.84","tax_total":"88.84","total":"582.39","amount_due":"582.39",
         "number":"INV-000001","due_date":"2025-03-03"}
        """

    static func document(customerName: String = "Globex") throws -> [UInt8] {
        let data = try #require(JSONValue.parse(Array(invoice.utf8))).adding([
            "customer": .object(["name": .string(customerName)])
        ])
        let settings = TenantBillingSettings(
            profile: InvoiceProfile(legalName: "Acme Cloud Pvt Ltd", footer: "Thank you."),
            taxes: [TaxRate(code: "cgst", name: "CGST", rate: Rational(9), isDefault: true)!])
        return try InvoiceDocument.model(invoice: data, settings: settings).serialized()
    }

    /// The text of a PDF, as `pdftotext` reads it.
    static func text(of pdf: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "covenant-\(UUID().uuidString).pdf"
        try Data(pdf).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/pdftotext")
        process.arguments = [path, "-"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: text, as: UTF8.self)
    }

    @Test("A PDF holding the number, the total and the tenant's legal name, and never the word Covenant")
    func invoicePDF() async throws {
        let typesetter = Self.typesetter()
        defer { typesetter.stop() }
        let pdf = try await typesetter.typeset(try Self.document())
        #expect(pdf.starts(with: Array("%PDF-".utf8)))
        let text = try Self.text(of: pdf)
        for expected in ["INV-000001", "INR 582.39", "Acme Cloud Pvt Ltd", "Globex", "CGST 9%", "3 Mar 2025"] {
            #expect(text.contains(expected), "\(expected)")
        }
        #expect(!text.lowercased().contains("covenant"))
    }

    @Test("A customer's name that reads as Typst markup is printed as it is written")
    func markupIsText() async throws {
        let typesetter = Self.typesetter()
        defer { typesetter.stop() }
        let hostile = #"#panic("x") #read("/etc/passwd") $x^2$ ]"#
        let text = try Self.text(of: try await typesetter.typeset(try Self.document(customerName: hostile)))
        #expect(text.contains(#"#panic("x")"#) && text.contains(#"#read("/etc/passwd")"#))
        #expect(!text.contains("root:"))
    }

    @Test("Data the template cannot use is refused, and the same process typesets the next document")
    func refusedThenNext() async throws {
        let typesetter = Self.typesetter()
        defer { typesetter.stop() }
        await #expect(throws: Typesetter.Failure.self) { try await typesetter.typeset(Array("{not json".utf8)) }
        await #expect(throws: Typesetter.Failure.self) { try await typesetter.typeset(Array(#"{"title":5}"#.utf8)) }
        let pdf = try await typesetter.typeset(try Self.document())
        #expect(pdf.starts(with: Array("%PDF-".utf8)) && typesetter.processesStarted == 1)
    }

    @Test("A document that outlasts the timeout has its process killed; the next document gets a new one")
    func timeout() async throws {
        var configuration = Self.typesetter().configuration
        configuration.timeout = .seconds(1)
        let typesetter = Typesetter(configuration: configuration)
        defer { typesetter.stop() }
        // 20,000 lines take the template many seconds (2,000 took 2 s when measured).
        var model = try #require(JSONValue.parse(try Self.document()))
        guard case .array(let lines)? = model["lines"] else {
            Issue.record("no lines")
            return
        }
        model = model.adding(["lines": .array(Array(repeating: lines[0], count: 20_000))])
        let started = ContinuousClock.now
        await #expect(throws: Typesetter.Failure.self) { try await typesetter.typeset(model.serialized()) }
        #expect(ContinuousClock.now - started < .seconds(10))
        let pdf = try await typesetter.typeset(try Self.document())
        #expect(pdf.starts(with: Array("%PDF-".utf8)) && typesetter.processesStarted == 2)
    }

    @Test("A typesetter process that dies is started again for the next document")
    func restartAfterDeath() async throws {
        let typesetter = Self.typesetter()
        defer { typesetter.stop() }
        _ = try await typesetter.typeset(try Self.document())
        // Kill this typesetter's process (its cache folder is its own): the next request finds it gone.
        let kill = Process()
        kill.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        kill.arguments = ["-9", "-f", typesetter.configuration.cacheDirectory]
        try kill.run()
        kill.waitUntilExit()
        try await Task.sleep(for: .milliseconds(200))
        var pdf: [UInt8] = []
        for _ in 0..<2 where pdf.isEmpty {
            pdf = (try? await typesetter.typeset(try Self.document())) ?? []
        }
        #expect(pdf.starts(with: Array("%PDF-".utf8)) && typesetter.processesStarted == 2)
    }
}
