import NotificationWorker
import WorkerRuntime

/// The notification worker: signed webhooks per tenant, retried, with a delivery log.
@main
struct NotificationMain {
    static func main() async throws {
        try await WorkerProcess.run(
            role: .notification, commands: NotificationHandler.commands, events: NotificationHandler.subscribedEvents
        ) { store, events, _ in
            NotificationHandler(store: store, events: events, sender: HTTPWebhookSender())
        }
    }
}
