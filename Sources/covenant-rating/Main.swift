import RatingWorker
import WorkerRuntime

/// The rating worker: usage into billing months. A usage message's unit is small (an inbox id
/// and a total), so batches of 1,000 spread each commit's cost over more of them (20,931 usage
/// events/s against 16,494 with 250 in one pair of 200,000-event rounds, docs/performance.md).
@main
struct RatingMain {
    static func main() async throws {
        try await WorkerProcess.run(
            role: .rating, commands: RatingHandler.commands, events: RatingHandler.subscribedEvents,
            batchSize: RatingHandler.batchSize
        ) { store, events, settings in
            RatingHandler(
                store: store, events: events, dateWindow: settings.dateWindow, now: EventClock.system.timestamp)
        }
    }
}
