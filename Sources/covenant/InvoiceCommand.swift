import ArgumentParser
import CovenantMessages
import Foundation
import Logging
import WorkerRuntime
import WorkerStores

struct InvoiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice", abstract: "Invoices as invoicing stored them.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one invoice: its lines and totals, or with --json the invoice.ready data.")

        @Argument(help: "The invoice id (INV-<customer>-<YYYYMMDD>-<currency>).") var id: String
        @Option(help: "The tenant the invoice belongs to.") var tenant: String
        @Option(help: "PostgreSQL URL (default: $COVENANT_DATABASE_URL).") var databaseURL: String?
        @Option(help: "SQLite data folder when no database URL (default: $COVENANT_DATA_DIR or ./var/data).")
        var dataDir: String?
        @Flag(help: "Print the invoice as JSON.") var json = false

        func run() async throws {
            var environment = ProcessInfo.processInfo.environment
            if let databaseURL { environment["COVENANT_DATABASE_URL"] = databaseURL }
            if let dataDir { environment["COVENANT_DATA_DIR"] = dataDir }
            let store = try StoreLocation.from(environment).store(.invoicing, logger: Logger(label: "covenant-cli"))
            let stored = try await withRunning(store) { [tenant, id] store in
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
}
