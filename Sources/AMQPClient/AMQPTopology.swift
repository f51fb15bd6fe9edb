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
        /// For each delay, a queue `<name>.retry.<milliseconds>` holds messages published to it
        /// that long, then the broker dead-letters them back to this queue: a message that
        /// arrived before what it depends on, or a webhook to try again, waits there without
        /// holding up the others. One queue per delay, since a queue expires only its head.
        public var retryDelaysMilliseconds: [Int]
        /// Exclusive to the connection that declares it, not durable, deleted with that connection
        /// (what a person watching events wants: nothing left behind). An empty name lets the
        /// broker choose one, anew at each connection.
        public var exclusive: Bool

        public init(
            name: String, kind: Kind = .quorum, bindings: [(exchange: String, routingKey: String)] = [],
            deadLetterExchange: String? = nil, deliveryLimit: Int? = nil, singleActiveConsumer: Bool = false,
            retryDelaysMilliseconds: [Int] = [], exclusive: Bool = false
        ) {
            self.name = name
            self.kind = kind
            self.bindings = bindings
            self.deadLetterExchange = deadLetterExchange
            self.deliveryLimit = deliveryLimit
            self.singleActiveConsumer = singleActiveConsumer
            self.retryDelaysMilliseconds = retryDelaysMilliseconds.sorted()
            self.exclusive = exclusive
        }

        /// The queue dead letters of this one land in.
        public var deadLetterQueueName: String { "\(name).dead" }

        /// The queue a message waits in for `milliseconds` before it comes back to this one.
        public func retryQueueName(milliseconds: Int) -> String { "\(name).retry.\(milliseconds)" }

        /// The retry queue of the shortest delay at least `milliseconds` (the longest if none is).
        public func retryQueueName(atLeast milliseconds: Int) -> String? {
            (retryDelaysMilliseconds.first { $0 >= milliseconds } ?? retryDelaysMilliseconds.last)
                .map { retryQueueName(milliseconds: $0) }
        }

        /// A retry queue's arguments: messages expire after the delay and go back through the
        /// default exchange to this queue; at-least-once dead-lettering loses none on the way.
        func retryArguments(milliseconds: Int) -> AMQPTable {
            [
                "x-queue-type": .string(Kind.quorum.rawValue),
                "x-message-ttl": .int(Int64(milliseconds)),
                "x-dead-letter-exchange": .string(""),
                "x-dead-letter-routing-key": .string(name),
                "x-dead-letter-strategy": .string("at-least-once"),
                "x-overflow": .string("reject-publish"),
            ]
        }

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
