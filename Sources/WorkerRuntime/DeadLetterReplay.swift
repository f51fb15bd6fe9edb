public import AMQPClient

/// What `covenant dead replay` publishes for a dead letter: the message as it was, back to the
/// worker queue it was set aside from, through the default exchange (never to an exchange or
/// routing key the message names), with where it was first published as Covenant verified it.
///
/// That origin decides how the worker treats the replay (its size limit, the type it may carry),
/// so it is taken only from what Covenant wrote: a worker's dead letter records it in
/// `x-covenant-original-*` (the worker vouched for it); one the broker dead-lettered itself (past
/// the delivery limit) says it in its latest `x-death`, unless that death was on Covenant's own
/// retry path (the default exchange), whose copies carry the worker's headers. Headers a publisher
/// set on a message sent to a named exchange are never read. The publisher goes along the same
/// way (`x-covenant-user`), so a replay is checked again as the one who sent the message, never
/// as the operator replaying it. (Only Covenant's workers and
/// operators may write `covenant.dead` and the default exchange: the broker's permissions.)
public enum DeadLetterReplay {
    public struct Replay: Sendable {
        public var message: AMQPMessage
        /// Where it goes: the default exchange, the worker's queue.
        public var routingKey: String
        public var origin: (exchange: String, routingKey: String)
    }

    /// The replay of `letter`, taken from `queue`'s dead letters; nil when where it was first
    /// published cannot be told (it then stays a dead letter).
    public static func replay(of letter: AMQPMessage, toQueue queue: String) -> Replay? {
        let headers = letter.headers
        let deaths = headers["x-death"]?.arrayValue?.compactMap(\.tableValue) ?? []
        let covenants: (String, String)? = {
            guard let exchange = headers[Worker.originalExchangeHeader]?.stringValue,
                let routingKey = headers[Worker.originalRoutingKeyHeader]?.stringValue
            else { return nil }
            return (exchange, routingKey)
        }()
        let recordedUser = headers[Worker.userHeader]?.stringValue
        let origin: (String, String)?
        let user: String?
        if let latest = deaths.first {  // the broker's dead letter: its latest death first
            let exchange = latest["exchange"]?.stringValue ?? ""
            let routingKey = latest["routing-keys"]?.arrayValue?.first?.stringValue
            origin = exchange.isEmpty ? covenants : routingKey.map { (exchange, $0) }
            // Published to a named exchange: RabbitMQ's validated user_id says who.
            user = exchange.isEmpty ? recordedUser : letter.userId
        } else {
            origin = covenants
            user = recordedUser
        }
        guard let origin else { return nil }
        var message = letter
        for key in headers.keys where key.hasPrefix("x-covenant-") || key == "x-death" || key == "x-delivery-count" {
            message.headers[key] = nil
        }
        message.headers[Worker.originalExchangeHeader] = .string(origin.0)
        message.headers[Worker.originalRoutingKeyHeader] = .string(origin.1)
        // Checked again as the publisher Covenant verified (none: forbidden), whoever replays it.
        if let user { message.headers[Worker.userHeader] = .string(user) }
        message.userId = nil
        return Replay(message: message, routingKey: queue, origin: origin)
    }
}
