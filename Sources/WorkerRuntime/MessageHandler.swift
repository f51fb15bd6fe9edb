public import BillingDomain
public import CovenantMessages
public import WorkerStores

/// What one worker does with an accepted message: decide, in the pure domain, what changes.
public protocol MessageHandler: Sendable {
    /// The effects of `event`: a unit of work to commit with its outbox (the runtime adds the
    /// inbox id), or a rejection. Throwing is for faults (the database is down): the runtime
    /// retries with back-off and never dead-letters the message for it.
    func handle(_ event: CloudEvent) async throws -> HandlerOutcome
}

public enum HandlerOutcome: Sendable {
    case commit(UnitOfWork)
    case reject(Rejection)
    /// The message is valid but cannot be handled yet: it arrived before what it depends on
    /// (the event of an earlier change of the same service, say), or a webhook receiver did
    /// not answer. It waits in a retry queue of the role for about `after` and comes back,
    /// while the messages behind it go on.
    case retryLater(String, after: Duration = .milliseconds(500))
}

/// Builds the events a worker publishes: CloudEvents with `causationid`, as outbox rows.
public struct EventFactory: Sendable {
    /// The events' `source` (`covenant/rating`).
    public let source: String
    public let exchange: String

    public init(source: String, exchange: String = Topology.eventsExchange) {
        self.source = source
        self.exchange = exchange
    }

    /// An event of `type` following from command `causationId`. Its id is derived from the
    /// command's id and `key` (default: `sequence`), so the same command always yields the
    /// same event ids.
    public func event(
        _ type: String, tenantId: String, causationId: String, data: JSONValue, time: String, sequence: Int = 0,
        key: String? = nil
    ) -> OutboxMessage {
        let id = "\(causationId):\(type):\(key ?? String(sequence))"
        let event = CloudEvent(
            id: id, source: source, type: type, time: time, tenantId: tenantId, causationId: causationId, data: data)
        return OutboxMessage(
            exchange: exchange, routingKey: type, messageId: id, type: type, contentType: CloudEvent.contentType,
            body: event.encoded())
    }
}
