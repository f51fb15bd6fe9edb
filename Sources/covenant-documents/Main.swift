import DocumentsWorker
import Foundation
import InvoiceDocuments
import WorkerRuntime

/// The documents worker: each final invoice as HTML and a PDF in its tenant's brand, once.
///
/// `COVENANT_TYPESETTER_VENV`: the Python with Typst (default `/opt/covenant/typesetter`, what
/// scripts/install-deps makes); `COVENANT_TYPESETTER_SCRIPT` (default `scripts/typesetter`),
/// `COVENANT_INVOICE_TEMPLATE` (default `templates/invoice.typ`) and
/// `COVENANT_INVOICE_HTML_TEMPLATE` (default `templates/invoice.html`), from the working
/// directory; `COVENANT_TYPESETTERS`: how many typesetter processes (default: one per core).
@main
struct DocumentsMain {
    static func main() async throws {
        let environment =
            (try? ConfigurationFile.load(from: ProcessInfo.processInfo.environment))?
            .merged(with: ProcessInfo.processInfo.environment) ?? ProcessInfo.processInfo.environment
        let venv = environment["COVENANT_TYPESETTER_VENV"] ?? "/opt/covenant/typesetter"
        let script = environment["COVENANT_TYPESETTER_SCRIPT"] ?? "scripts/typesetter"
        let template = environment["COVENANT_INVOICE_TEMPLATE"] ?? "templates/invoice.typ"
        let htmlTemplate = environment["COVENANT_INVOICE_HTML_TEMPLATE"] ?? "templates/invoice.html"
        for (variable, path) in [
            ("COVENANT_TYPESETTER_VENV", "\(venv)/bin/python"), ("COVENANT_TYPESETTER_SCRIPT", script),
            ("COVENANT_INVOICE_TEMPLATE", template), ("COVENANT_INVOICE_HTML_TEMPLATE", htmlTemplate),
        ]
        where !FileManager.default.isReadableFile(atPath: path) {
            configurationError("\(variable): cannot read \(path)")
        }
        let html: InvoiceHTML
        do {
            html = try InvoiceHTML(template: try String(contentsOfFile: htmlTemplate, encoding: .utf8))
        } catch {
            configurationError("COVENANT_INVOICE_HTML_TEMPLATE: \(htmlTemplate): \(error)")
        }
        var count = ProcessInfo.processInfo.activeProcessorCount
        if let text = environment["COVENANT_TYPESETTERS"] {
            guard let chosen = Int(text), (1...64).contains(chosen) else {
                configurationError("COVENANT_TYPESETTERS: \(text) is not a count of 1 to 64")
            }
            count = chosen
        }
        let typesetters = count
        try await WorkerProcess.run(
            role: .documents, commands: DocumentsHandler.commands, events: DocumentsHandler.subscribedEvents,
            batchSize: DocumentsHandler.batchSize
        ) { store, events, settings in
            let pool = TypesetterPool(
                count: typesetters,
                configuration: Typesetter.Configuration(
                    python: "\(venv)/bin/python", script: script, template: template,
                    cacheDirectory: "\(settings.dataDirectory)/typesetter"))
            return DocumentsHandler(
                store: store, events: events, typesetters: pool, html: html, now: EventClock.system.timestamp)
        }
    }

    static func configurationError(_ message: String) -> Never {
        FileHandle.standardError.write(Data("covenant-documents: configuration: \(message)\n".utf8))
        exit(78)  // EX_CONFIG
    }
}
