import RatingWorker
import WorkerRuntime

/// The rating worker: usage into billing months.
@main
struct RatingMain {
    static func main() async throws {
        try await WorkerProcess.run(
            role: .rating, commands: RatingHandler.commands, events: RatingHandler.subscribedEvents
        ) { store, events in
            RatingHandler(store: store, events: events, now: Worker.now)
        }
    }
}
