import DocumentsWorker
import Foundation
import WorkerRuntime

/// The documents worker: each final invoice typeset into a PDF in its tenant's brand, once.
///
/// `COVENANT_TYPESETTER_VENV`: the Python with Typst (default `/opt/covenant/typesetter`, what
/// scripts/install-deps makes); `COVENANT_TYPESETTER_SCRIPT` (default `scripts/typesetter`) and
/// `COVENANT_INVOICE_TEMPLATE` (default `templates/invoice.typ`), from the working directory.
@main
struct DocumentsMain {
    static func main() async throws {
        let environment =
            (try? ConfigurationFile.load(from: ProcessInfo.processInfo.environment))?
            .merged(with: ProcessInfo.processInfo.environment) ?? ProcessInfo.processInfo.environment
        let venv = environment["COVENANT_TYPESETTER_VENV"] ?? "/opt/covenant/typesetter"
        let script = environment["COVENANT_TYPESETTER_SCRIPT"] ?? "scripts/typesetter"
        let template = environment["COVENANT_INVOICE_TEMPLATE"] ?? "templates/invoice.typ"
        for (variable, path) in [
            ("COVENANT_TYPESETTER_VENV", "\(venv)/bin/python"), ("COVENANT_TYPESETTER_SCRIPT", script),
            ("COVENANT_INVOICE_TEMPLATE", template),
        ]
        where !FileManager.default.isReadableFile(atPath: path) {
            FileHandle.standardError.write(
                Data("covenant-documents: configuration: \(variable): cannot read \(path)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        try await WorkerProcess.run(
            role: .documents, commands: DocumentsHandler.commands, events: DocumentsHandler.subscribedEvents
        ) { store, events, settings in
            let typesetter = Typesetter(
                configuration: Typesetter.Configuration(
                    python: "\(venv)/bin/python", script: script, template: template,
                    cacheDirectory: "\(settings.dataDirectory)/typesetter"))
            return DocumentsHandler(
                store: store, events: events, typesetter: typesetter, now: EventClock.system.timestamp)
        }
    }
}
