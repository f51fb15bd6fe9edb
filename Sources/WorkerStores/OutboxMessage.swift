/// A message to publish once the transaction that wrote it commits.
public struct OutboxMessage: Sendable, Hashable {
    public var exchange: String
    public var routingKey: String
    public var messageId: String
    public var type: String?
    public var contentType: String
    public var headers: [String: String]
    public var body: [UInt8]

    public init(
        exchange: String, routingKey: String, messageId: String, type: String? = nil,
        contentType: String = "application/cloudevents+json", headers: [String: String] = [:], body: [UInt8]
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageId = messageId
        self.type = type
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }
}

/// An outbox row a relay claimed: publish it, then mark it sent.
public struct OutboxRecord: Sendable, Hashable {
    public let id: Int64
    public let message: OutboxMessage
}
