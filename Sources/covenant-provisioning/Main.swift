import ProvisioningWorker
import WorkerRuntime

/// The provisioning worker: tenants, catalog, services and contracts.
@main
struct ProvisioningMain {
    static func main() async throws {
        try await WorkerProcess.run(role: .provisioning, commands: ProvisioningHandler.commands) { store, events in
            ProvisioningHandler(store: store, events: events, now: Worker.now)
        }
    }
}
