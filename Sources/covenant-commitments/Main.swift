import CommitmentsWorker
import WorkerRuntime

/// The commitments worker: evaluates commitment windows on each billing run's draft.
@main
struct CommitmentsMain {
    static func main() async throws {
        try await WorkerProcess.run(
            role: .commitments, commands: CommitmentsHandler.commands, events: CommitmentsHandler.subscribedEvents
        ) { store, events, _ in
            CommitmentsHandler(store: store, events: events, now: EventClock.system.timestamp)
        }
    }
}
