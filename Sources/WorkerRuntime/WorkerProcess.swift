import CovenantMessages
import Foundation
public import Logging
import Metrics
import Prometheus
public import ServiceLifecycle
public import WorkerStores

/// What every worker executable does: read the environment, open the role's store, run the
/// role's handler in a `Worker` until SIGTERM or SIGINT. Each `main` only names its role.
public enum WorkerProcess {
    /// Runs the worker of `role` (queue `covenant.<role>`, events from `covenant/<role>`), and
    /// any services the role runs `alongside` it (provisioning's clock). `batchSize`: the most
    /// messages (or records) decided and committed together; the prefetch is twice that.
    public static func run(
        role: StoreRole, commands: [String], events subscribed: [String] = [], takesUnroutedCommands: Bool = false,
        batchSize: Int = 250,
        retryDelaysMilliseconds: [Int]? = nil,
        handler: @Sendable (any WorkerStore, EventFactory, WorkerSettings) -> any MessageHandler,
        alongside: @Sendable (any WorkerStore, EventFactory, Logger) throws -> [any Service] = { _, _, _ in [] }
    ) async throws {
        let name = role.rawValue
        if BuildInfo.answersVersion("covenant-\(name)") { return }
        let settings: WorkerSettings
        do {
            settings = try WorkerSettings.fromEnvironment(connectionName: "covenant-\(name)")
        } catch {
            FileHandle.standardError.write(Data("covenant-\(name): configuration: \(error)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "covenant.\(name)")
        // Metrics go to Prometheus when the operations endpoint is on (bootstrapped before any
        // metric is created: one made earlier would stay a no-op).
        let registry = settings.httpPort.map { _ in PrometheusCollectorRegistry() }
        if let registry { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
        // The store runs (PostgreSQL's pool) as a child of this task, for the process's whole life.
        try await withRunning(try settings.store(role, logger: logger)) { store in
            // Migrated before anything runs: the services alongside (provisioning's clock) and the
            // health endpoint read the store from their first moment.
            try await store.migrate()
            let queue = "covenant.\(name)"
            let events = EventFactory(source: "covenant/\(name)")
            // Every role keeps the grants of tenant authorization (Worker+Entitlements).
            let subscribed = subscribed + [AccessChanged.type]
            var configuration = Worker.Configuration(
                queue: queue,
                topology: Topology.workerQueue(
                    queue, commands: commands, events: subscribed, takesUnroutedCommands: takesUnroutedCommands,
                    retryDelaysMilliseconds: retryDelaysMilliseconds ?? Topology.retryDelaysMilliseconds))
            configuration.batchSize = batchSize
            configuration.operators = settings.operators
            configuration.prefetch = UInt16(clamping: 2 * batchSize)
            let worker = Worker(
                configuration: configuration, amqp: settings.amqp, store: store,
                handler: handler(store, events, settings),
                events: events, logger: logger)
            var services: [any Service] = [worker, HeapTrimmer()]
            if let port = settings.httpPort, let registry {
                services.append(
                    OperationsServer(
                        host: settings.httpHost, port: port, registry: registry, health: { await worker.health() },
                        logger: logger))
            }
            let group = ServiceGroup(
                services: services + (try alongside(store, events, logger)),
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger)
            try await group.run()
        }
    }
}
