import AMQPClient
import CovenantMessages
import WorkerRuntime

/// A command sent and its outcome awaited: what `webhook resend` and `access` do.
enum CommandOutcome {
    /// Publishes `command`, then returns what `recognise` makes of the first message, on a queue
    /// bound to `bindings` before the command goes out (so its outcome cannot pass unseen), that
    /// it recognises. Fails when the connection's deadline passes first.
    static func publish<Outcome: Sendable>(
        _ command: CloudEvent, awaiting bindings: [(exchange: String, routingKey: String)], _ connection: Connection,
        recognise: @escaping @Sendable (CloudEvent) -> Outcome?
    ) async throws -> Outcome {
        let configuration = try connection.configuration()
        let deadline = connection.deadline(configuration)
        let outcomes = AMQPTopology.Queue(name: "", kind: .classic, bindings: bindings, exclusive: true)
        let consumer = AMQPConsumer(
            configuration: configuration, queue: "",
            topology: AMQPTopology(exchanges: Topology.exchanges, queues: [outcomes]),
            onConnectionEvent: deadline.observer)
        try await deadline.connected("binding a queue for the outcome of \(command.type)")
        try await Publish.publish([Publish.message(command)], connection)
        let outcome = try await deadline.run("waiting for the outcome of \(command.id)") {
            for await delivery in consumer.deliveries {
                consumer.acknowledge(delivery)
                if let event = try? CloudEvent.decode(delivery.message.body).get(), let outcome = recognise(event) {
                    return outcome
                }
            }
            throw CommandFailure(message: "the connection ended before the outcome came")
        }
        consumer.finishDeliveries()
        await consumer.stop()
        return outcome
    }

    /// The command's `command.rejected`, rendered.
    static func rejection(of command: CloudEvent, in event: CloudEvent) -> String? {
        guard event.type == "command.rejected", event.data["command_id"] == .string(command.id) else { return nil }
        return EventText.render(event)
    }
}
