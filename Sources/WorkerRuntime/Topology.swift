public import AMQPClient

/// The exchanges and queues of `spec/amqp-api.md`.
public enum Topology {
    public static let commandsExchange = "covenant.commands"
    public static let eventsExchange = "covenant.events"
    public static let deadExchange = "covenant.dead"

    public static let exchanges: [AMQPTopology.Exchange] = [
        .init(name: commandsExchange), .init(name: eventsExchange), .init(name: deadExchange),
    ]

    /// A worker role's durable queue, bound to the commands and events it consumes, with its
    /// `.dead` queue on the dead-letter exchange.
    public static func workerQueue(
        _ name: String, commands: [String] = [], events: [String] = [], kind: AMQPTopology.Queue.Kind = .quorum,
        retryDelaysMilliseconds: [Int] = [500, 5_000, 60_000]
    ) -> AMQPTopology {
        let bindings =
            commands.map { (exchange: commandsExchange, routingKey: $0) }
            + events.map { (exchange: eventsExchange, routingKey: $0) }
        return AMQPTopology(
            exchanges: exchanges,
            queues: [
                .init(
                    name: name, kind: kind, bindings: bindings, deadLetterExchange: deadExchange,
                    retryDelaysMilliseconds: retryDelaysMilliseconds)
            ])
    }
}
