import Foundation
import ProvisioningWorker
import WorkerRuntime

/// The provisioning worker, with the clock of the 1st beside it.
///
/// `COVENANT_CLOCK_INTERVAL_MS` sets how often the clock looks (default 30 s);
/// `COVENANT_CLOCK_FILE` makes it read the time from a file (demos and tests only).
@main
struct ProvisioningMain {
    static func main() async throws {
        // The clock's settings, like the worker's, from the environment over the configuration
        // file (a bad file stops the worker in WorkerProcess.run, naming the key).
        let environment =
            (try? ConfigurationFile.load(from: ProcessInfo.processInfo.environment))?
            .merged(with: ProcessInfo.processInfo.environment) ?? ProcessInfo.processInfo.environment
        let file = environment["COVENANT_CLOCK_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let interval = environment["COVENANT_CLOCK_INTERVAL_MS"].flatMap(Int.init) ?? (file == nil ? 30_000 : 200)
        try await WorkerProcess.run(
            role: .provisioning, commands: ProvisioningHandler.commands, events: ProvisioningHandler.subscribedEvents,
            takesUnroutedCommands: true,
            handler: { store, events, settings in
                ProvisioningHandler(
                    store: store, events: events, dateWindow: settings.dateWindow, now: EventClock.system.timestamp)
            },
            alongside: { store, events, logger in
                [
                    BillingClockService(
                        ticker: BillingClockTicker(store: store, events: EventFactory(source: "covenant/clock")),
                        time: file.map { .file($0) } ?? .system, interval: .milliseconds(max(50, interval)),
                        logger: logger)
                ]
            })
    }
}
