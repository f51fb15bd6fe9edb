/// A message as published or delivered: a body and the properties Covenant uses.
public struct AMQPMessage: Sendable, Hashable {
    public var body: [UInt8]
    public var messageId: String?
    public var contentType: String?
    public var type: String?
    /// Seconds since 1970 (AMQP timestamps have one-second resolution).
    public var timestamp: UInt64?
    public var correlationId: String?
    public var appId: String?
    /// The publishing user, as RabbitMQ validated it (`user_id`): see ``AMQPConfiguration/stampsUserId``.
    public var userId: String?
    public var headers: AMQPTable
    /// Delivery mode 2: the broker writes the message to disk.
    public var persistent: Bool

    public init(
        body: [UInt8], messageId: String? = nil, contentType: String? = nil, type: String? = nil,
        timestamp: UInt64? = nil, correlationId: String? = nil, appId: String? = nil, userId: String? = nil,
        headers: AMQPTable = [:], persistent: Bool = true
    ) {
        self.body = body
        self.messageId = messageId
        self.contentType = contentType
        self.type = type
        self.timestamp = timestamp
        self.correlationId = correlationId
        self.appId = appId
        self.userId = userId
        self.headers = headers
        self.persistent = persistent
    }
}

/// A message the broker delivered to a consumer, to be acknowledged once handled.
public struct AMQPDelivery: Sendable {
    public let message: AMQPMessage
    public let deliveryTag: UInt64
    public let redelivered: Bool
    public let exchange: String
    public let routingKey: String
    /// Which connection of the consumer delivered it: an acknowledgement is only valid on it.
    let connectionEpoch: Int

    /// The broker's count of earlier deliveries (quorum queues' `x-delivery-count`).
    public var deliveryCount: Int64 {
        message.headers["x-delivery-count"]?.intValue ?? 0
    }

    /// The same delivery, acknowledged the same way, with other headers (what a consumer
    /// vouches for of those a publisher set).
    public func replacingHeaders(_ headers: AMQPTable) -> AMQPDelivery {
        var message = message
        message.headers = headers
        return AMQPDelivery(
            message: message, deliveryTag: deliveryTag, redelivered: redelivered, exchange: exchange,
            routingKey: routingKey, connectionEpoch: connectionEpoch)
    }

    /// The `x-death` history of a dead-lettered message: one table per queue and reason.
    public var deaths: [AMQPTable] {
        message.headers["x-death"]?.arrayValue?.compactMap(\.tableValue) ?? []
    }
}

/// What the broker said of a published message.
public enum PublishConfirmation: Sendable, Hashable {
    /// Stored by the broker (and routed to at least one queue when published mandatory).
    case confirmed
    /// Mandatory and routed to no queue: the broker returned it (and then confirmed it).
    case unroutable(replyCode: Int, replyText: String)
}
