/// Exchanges, queues and bindings, declared idempotently at every (re)connection.
public struct AMQPTopology: Sendable {
    public struct Exchange: Sendable {
        public var name: String
        public var type: String
        public var durable: Bool

        public init(name: String, type: String = "topic", durable: Bool = true) {
            self.name = name
            self.type = type
            self.durable = durable
        }
    }

    public struct Queue: Sendable {
        public enum Kind: String, Sendable {
            case quorum
            case classic
        }

        public var name: String
        public var kind: Kind
        /// `(exchange, routing key)` pairs the queue is bound with.
        public var bindings: [(exchange: String, routingKey: String)]
        /// When set, rejected and expired messages go to this exchange with the queue's name as
        /// routing key, and a queue `<name>.dead` bound there keeps them.
        public var deadLetterExchange: String?
        /// Quorum queues: deliveries after which a message is dead-lettered.
        public var deliveryLimit: Int?
        public var singleActiveConsumer: Bool

        public init(
            name: String, kind: Kind = .quorum, bindings: [(exchange: String, routingKey: String)] = [],
            deadLetterExchange: String? = nil, deliveryLimit: Int? = nil, singleActiveConsumer: Bool = false
        ) {
            self.name = name
            self.kind = kind
            self.bindings = bindings
            self.deadLetterExchange = deadLetterExchange
            self.deliveryLimit = deliveryLimit
            self.singleActiveConsumer = singleActiveConsumer
        }

        /// The queue dead letters of this one land in.
        public var deadLetterQueueName: String { "\(name).dead" }

        var arguments: AMQPTable {
            var arguments: AMQPTable = ["x-queue-type": .string(kind.rawValue)]
            if let deadLetterExchange {
                arguments["x-dead-letter-exchange"] = .string(deadLetterExchange)
                arguments["x-dead-letter-routing-key"] = .string(name)
            }
            if let deliveryLimit { arguments["x-delivery-limit"] = .int(Int64(deliveryLimit)) }
            if singleActiveConsumer { arguments["x-single-active-consumer"] = .bool(true) }
            return arguments
        }
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]

    public init(exchanges: [Exchange] = [], queues: [Queue] = []) {
        self.exchanges = exchanges
        self.queues = queues
    }

    public static let empty = AMQPTopology()
}
