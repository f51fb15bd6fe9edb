import Foundation
import Logging
import ProvisioningWorker
import ServiceLifecycle
import WorkerRuntime

/// The provisioning worker: tenants, catalog, services and contracts.
@main
struct ProvisioningMain {
    static func main() async throws {
        let logger = Logger(label: "covenant.provisioning")
        let settings: WorkerSettings
        do {
            settings = try WorkerSettings.fromEnvironment(connectionName: "covenant-provisioning")
        } catch {
            FileHandle.standardError.write(Data("covenant-provisioning: configuration: \(error)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        let store = try settings.store(.provisioning, logger: logger)
        let queue = "covenant.provisioning"
        let events = EventFactory(source: "covenant/provisioning")
        let worker = Worker(
            configuration: .init(
                queue: queue, topology: Topology.workerQueue(queue, commands: ProvisioningHandler.commands)),
            amqp: settings.amqp, store: store,
            handler: ProvisioningHandler(store: store, events: events, now: Worker.now), events: events, logger: logger)
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        try await store.close()
    }
}
