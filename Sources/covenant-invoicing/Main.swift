import InvoicingWorker
import WorkerRuntime

/// The invoicing worker: customers' ledgers, billing runs and invoices.
@main
struct InvoicingMain {
    static func main() async throws {
        try await WorkerProcess.run(
            role: .invoicing, commands: InvoicingHandler.commands, events: InvoicingHandler.subscribedEvents
        ) { store, events, _ in
            InvoicingHandler(store: store, events: events, now: EventClock.system.timestamp)
        }
    }
}
