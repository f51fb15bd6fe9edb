import ArgumentParser
import CovenantMessages
import DocumentsWorker
import Foundation
import Logging
import WorkerRuntime
import WorkerStores

struct InvoiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice", abstract: "Invoices as invoicing stored them, and their documents.",
        subcommands: [Show.self, Document.self])

    /// Where a worker's store is: PostgreSQL, or SQLite files in a folder.
    struct StoreOptions: ParsableArguments {
        @Option(help: "PostgreSQL URL (default: $COVENANT_DATABASE_URL).") var databaseURL: String?
        @Option(help: "SQLite data folder when no database URL (default: $COVENANT_DATA_DIR or ./var/data).")
        var dataDir: String?

        /// `role`'s store, not yet running.
        func opened(_ role: StoreRole) throws -> any WorkerStore {
            var environment = ProcessInfo.processInfo.environment
            if let databaseURL { environment["COVENANT_DATABASE_URL"] = databaseURL }
            if let dataDir { environment["COVENANT_DATA_DIR"] = dataDir }
            return try StoreLocation.from(environment).store(role, logger: Logger(label: "covenant-cli"))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one invoice: its lines and totals, or with --json the invoice.ready data.")

        @Argument(help: "The invoice id (INV-<customer>-<YYYYMMDD>-<currency>).") var id: String
        @Option(help: "The tenant the invoice belongs to.") var tenant: String
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print the invoice as JSON.") var json = false

        func run() async throws {
            let stored = try await withRunning(try store.opened(.invoicing)) { [tenant, id] store in
                try await store.migrate()
                return try await store.invoice(tenantId: tenant, invoiceId: id)
            }
            guard let stored, let invoice = JSONValue.parse(stored.body) else {
                throw ValidationError("no invoice \(id) of tenant \(tenant)")
            }
            if json {
                print(String(decoding: invoice.serialized(), as: UTF8.self))
                return
            }
            print(EventText.invoice(invoice))
        }
    }

    struct Document: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write out an invoice's document, byte for byte as the documents worker keeps it.",
            discussion: "Reads the documents worker's store (its database, or its SQLite folder).")

        enum Format: String, EnumerableFlag {
            case pdf, html
        }

        @Argument(help: "The invoice id.") var id: String
        @Option(help: "The tenant the invoice belongs to.") var tenant: String
        @Flag(help: "The PDF (the default) or the HTML.") var format: Format = .pdf
        @Option(name: .shortAndLong, help: "Write to this file (default: standard output).") var output: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let kind = format == .pdf ? DocumentsHandler.pdfKind : DocumentsHandler.htmlKind
            let stored = try await withRunning(try store.opened(.documents)) { [tenant, id] store in
                try await store.migrate()
                return try await store.document(kind: kind, key: "\(tenant)/\(id)")
            }
            guard let stored else {
                throw ValidationError("no \(format.rawValue) document of invoice \(id) of tenant \(tenant) (yet)")
            }
            if let output {
                try Data(stored.body).write(to: URL(fileURLWithPath: output), options: .atomic)
            } else {
                FileHandle.standardOutput.write(Data(stored.body))
            }
        }
    }
}
