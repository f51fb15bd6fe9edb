public import AMQPClient

/// The exchanges and queues of the interface (docs/api/amqp.md).
public enum Topology {
    public static let commandsExchange = "covenant.commands"
    public static let eventsExchange = "covenant.events"
    public static let deadExchange = "covenant.dead"

    public static let exchanges: [AMQPTopology.Exchange] = [
        .init(name: commandsExchange), .init(name: eventsExchange), .init(name: deadExchange),
    ]

    /// Deliveries of one message after which a worker's quorum queue dead-letters it, unsettled:
    /// the broker's backstop behind the worker's own count (`Worker+Redeliveries`), for a message
    /// that kills its worker before the worker can record a try. High, since every message a
    /// dying worker had prefetched is counted too. Set by a policy, not a queue argument, so that
    /// it applies to queues declared before it and can change without declaring them again
    /// (which a changed argument refuses): `covenant-delivery-limit`, in
    /// compose/rabbitmq-definitions.json and scripts/rabbitmq.
    public static let deliveryLimit = 50

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
