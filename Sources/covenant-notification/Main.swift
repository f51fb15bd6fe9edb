import Foundation
import NotificationWorker
import WorkerRuntime

/// The notification worker: signed webhooks per tenant, retried, with a delivery log.
///
/// `COVENANT_WEBHOOK_ALLOWED_HOSTS`: hosts the operator allows plain `http` and any address for
/// (a local receiver in a demo); every other webhook is `https` to a public address.
/// `COVENANT_WEBHOOK_ATTEMPTS`: tries before a delivery is given up (default 8, about 8.6 hours).
@main
struct NotificationMain {
    static func main() async throws {
        let environment =
            (try? ConfigurationFile.load(from: ProcessInfo.processInfo.environment))?
            .merged(with: ProcessInfo.processInfo.environment) ?? ProcessInfo.processInfo.environment
        let policy = WebhookAddressPolicy(environment: environment)
        // COVENANT_WEBHOOK_ATTEMPTS: tries of a delivery before it is given up (1–8, default 8).
        let attempts = environment["COVENANT_WEBHOOK_ATTEMPTS"].map { Int($0) ?? 0 } ?? 8
        guard (1...8).contains(attempts) else {
            FileHandle.standardError.write(
                Data("covenant-notification: configuration: COVENANT_WEBHOOK_ATTEMPTS must be 1–8\n".utf8))
            exit(78)  // EX_CONFIG
        }
        let sealer: SecretSealer
        do {
            sealer = try SecretSealer.fromEnvironment(environment)
        } catch {
            FileHandle.standardError.write(Data("covenant-notification: configuration: \(error)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        if !sealer.isSealing {
            FileHandle.standardError.write(
                Data(
                    "covenant-notification: webhook secrets are stored unsealed: set COVENANT_SECRETS_KEY_FILE\n".utf8))
        }
        try await WorkerProcess.run(
            role: .notification, commands: NotificationHandler.commands,
            events: NotificationHandler.subscribedEvents + NotificationHandler.settingsEvents,
            retryDelaysMilliseconds: NotificationHandler.retryDelaysMilliseconds
        ) { store, events, _ in
            NotificationHandler(
                store: store, events: events, sender: HTTPWebhookSender(policy: policy), maximumAttempts: attempts,
                sealer: sealer)
        }
    }
}
