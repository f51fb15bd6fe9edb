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
            let configuration = try connection.configuration()
            let deadline = connection.deadline(configuration)
            let command = CloudEvent(
                id: "resend-\(UUID().uuidString.lowercased())", source: "covenant-cli", type: Command.webhookResendType,
                time: EventClock.system.timestamp(), tenantId: tenant, data: Command.webhookResendData(eventId: eventId)
            )
            let outcomes = AMQPTopology.Queue(
                name: "", kind: .classic,
                bindings: ["notification.delivered", "notification.failed", "command.rejected"].map {
                    (exchange: Topology.eventsExchange, routingKey: "\(command.tenantId).\($0)")
                }, exclusive: true)
            let consumer = AMQPConsumer(
                configuration: configuration, queue: "",
                topology: AMQPTopology(exchanges: Topology.exchanges, queues: [outcomes]),
                onConnectionEvent: deadline.observer)
            // Bound before the command goes out, so its outcome cannot pass unseen.
            try await deadline.connected("binding a queue to \(Topology.eventsExchange)")
            try await Publish.publish([Publish.message(command)], connection)
            let (tenant, eventId) = (tenant, eventId)
            let outcome = try await deadline.run("waiting for the outcome of \(command.id)") {
                for await delivery in consumer.deliveries {
                    consumer.acknowledge(delivery)
                    guard let event = try? CloudEvent.decode(delivery.message.body).get(), event.tenantId == tenant
                    else { continue }
                    if event.type == "command.rejected", event.data["command_id"] == .string(command.id) {
                        return (false, EventText.render(event))
                    }
                    // The outcome of this attempt, not of another (a retry still due, or a resend
                    // someone else sent): it follows from this command.
                    if event.type != "command.rejected", event.causationId == command.id {
                        return (event.type == "notification.delivered", EventText.render(event))
                    }
                }
                throw CommandFailure(message: "the connection ended before the outcome came")
            }
            consumer.finishDeliveries()
            await consumer.stop()
            print(outcome.1)
            guard outcome.0 else { throw CommandFailure(message: "event \(eventId) was not delivered") }
        }
    }
}
