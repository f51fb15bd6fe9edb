public import AMQPClient
import CovenantMessages

/// The exchanges and queues of the interface (docs/api/amqp.md).
public enum Topology {
    public static let commandsExchange = "covenant.commands"
    public static let eventsExchange = "covenant.events"
    /// Messages between workers that are not public events: only the workers' user may read or
    /// write it.
    public static let internalExchange = "covenant.internal"
    public static let deadExchange = "covenant.dead"
    /// The alternate exchange of ``commandsExchange`` (a policy, `covenant-unrouted`, in
    /// scripts/rabbitmq and compose): a command no queue is bound to take goes to provisioning's
    /// queue through it, and is rejected `unknown_type` instead of being dropped.
    public static let unroutedExchange = "covenant.unrouted"

    public static let exchanges: [AMQPTopology.Exchange] = [
        .init(name: commandsExchange), .init(name: eventsExchange), .init(name: internalExchange),
        .init(name: deadExchange), .init(name: unroutedExchange, type: "fanout"),
    ]

    /// The types that travel on ``internalExchange``: the workers' messages to each other, and
    /// the clock's billing runs (Covenant's own, with ids no command may use).
    public static let internalTypes: Set<String> = [
        BillingRunPart.type, BillingPeriodClosed.type, InvoiceDrafted.type, CommitmentsEvaluated.type,
        Command.billingRunType, AccessChanged.type,
    ]

    /// Where a worker publishes an event of `type` for `tenantId`: the internal exchange for
    /// ``internalTypes``, else the events exchange; routing key `<tenantid>.<type>`.
    public static func route(event type: String, tenantId: String) -> (exchange: String, routingKey: String) {
        (exchange(ofEvent: type), "\(tenantId).\(type)")
    }

    /// The exchange an event of `type` travels on.
    static func exchange(ofEvent type: String) -> String {
        internalTypes.contains(type) ? internalExchange : eventsExchange
    }

    /// How long a worker's messages wait in its retry queues, unless its role says otherwise.
    public static let retryDelaysMilliseconds = [500, 5_000, 60_000]

    /// Deliveries of one message after which a worker's quorum queue dead-letters it, unsettled:
    /// the broker's backstop behind the worker's own count (`Worker+Redeliveries`), for a message
    /// that kills its worker before the worker can record a try. High, since every message a
    /// dying worker had prefetched is counted too. Set by a policy, not a queue argument, so that
    /// it applies to queues declared before it and can change without declaring them again
    /// (which a changed argument refuses): `covenant-delivery-limit`, in
    /// compose/rabbitmq-definitions.json and scripts/rabbitmq.
    public static let deliveryLimit = 50

    /// A worker role's durable queue, bound to the commands (routing key: the type) and events
    /// (`*.<type>`, on the exchange each travels) it consumes, with its `.dead` queue on the
    /// dead-letter exchange.
    public static func workerQueue(
        _ name: String, commands: [String] = [], events: [String] = [], kind: AMQPTopology.Queue.Kind = .quorum,
        takesUnroutedCommands: Bool = false, retryDelaysMilliseconds: [Int] = retryDelaysMilliseconds
    ) -> AMQPTopology {
        let bindings =
            (takesUnroutedCommands ? [(exchange: unroutedExchange, routingKey: "")] : [])
            + commands.map { (exchange: commandsExchange, routingKey: $0) }
            + events.map { (exchange: exchange(ofEvent: $0), routingKey: "*.\($0)") }
        return AMQPTopology(
            exchanges: exchanges,
            queues: [
                .init(
                    name: name, kind: kind, bindings: bindings, deadLetterExchange: deadExchange,
                    retryDelaysMilliseconds: retryDelaysMilliseconds)
            ])
    }

    /// `exchange type` of each type `queue` is bound to take: a command's routing key is its
    /// type, an event's `*.<type>`.
    static func boundTypes(of queue: AMQPTopology.Queue?) -> Set<String> {
        Set(
            (queue?.bindings ?? []).compactMap { binding in
                switch binding.exchange {
                case commandsExchange: "\(binding.exchange) \(binding.routingKey)"
                case eventsExchange, internalExchange:
                    binding.routingKey.hasPrefix("*.")
                        ? "\(binding.exchange) \(binding.routingKey.dropFirst(2))" : nil
                default: nil
                }
            })
    }
}
