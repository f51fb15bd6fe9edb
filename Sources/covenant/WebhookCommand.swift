import AMQPClient
import ArgumentParser
import CovenantMessages
import Foundation
import WorkerRuntime

struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook", abstract: "Webhook deliveries.", subcommands: [Resend.self])

    struct Resend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send again an event whose webhook delivery notification gave up (one attempt).",
            discussion: """
                Publishes webhook.resend and waits for its outcome: notification.delivered (exit 0), \
                notification.failed with its reason, or command.rejected (exit 1: no delivery of that \
                event was given up for the tenant, or the tenant has no webhook).
                """)

        @OptionGroup var connection: Connection
        @Option(help: "The tenant.") var tenant: String
        @Argument(help: "The id of the event (notification.failed's event_id).") var eventId: String

        func run() async throws {
            let command = CloudEvent(
                id: "resend-\(UUID().uuidString.lowercased())", source: "covenant-cli", type: Command.webhookResendType,
                time: EventClock.system.timestamp(), tenantId: tenant, data: Command.webhookResendData(eventId: eventId)
            )
            let bindings = ["notification.delivered", "notification.failed", "command.rejected"].map {
                (exchange: Topology.eventsExchange, routingKey: "\(command.tenantId).\($0)")
            }
            let outcome = try await CommandOutcome.publish(command, awaiting: bindings, connection) { event in
                if let rejection = CommandOutcome.rejection(of: command, in: event) { return (false, rejection) }
                // The outcome of this attempt, not of another (a retry still due, or a resend
                // someone else sent): it follows from this command.
                guard event.type != "command.rejected", event.causationId == command.id else { return nil }
                return (event.type == "notification.delivered", EventText.render(event))
            }
            print(outcome.1)
            guard outcome.0 else { throw CommandFailure(message: "event \(eventId) was not delivered") }
        }
    }
}
