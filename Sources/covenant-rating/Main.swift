import Foundation
import Logging
import RatingWorker
import ServiceLifecycle
import WorkerRuntime

/// The rating worker: usage into billing months.
@main
struct RatingMain {
    static func main() async throws {
        let logger = Logger(label: "covenant.rating")
        let settings: WorkerSettings
        do {
            settings = try WorkerSettings.fromEnvironment(connectionName: "covenant-rating")
        } catch {
            FileHandle.standardError.write(Data("covenant-rating: configuration: \(error)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        let store = try settings.store(.rating, logger: logger)
        let queue = "covenant.rating"
        let events = EventFactory(source: "covenant/rating")
        let topology = Topology.workerQueue(
            queue, commands: RatingHandler.commands, events: RatingHandler.subscribedEvents)
        let worker = Worker(
            configuration: .init(queue: queue, topology: topology), amqp: settings.amqp, store: store,
            handler: RatingHandler(store: store, events: events, now: Worker.now), events: events, logger: logger)
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        try await store.close()
    }
}
