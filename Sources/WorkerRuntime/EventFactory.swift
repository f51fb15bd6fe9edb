public import CovenantMessages
import Crypto
public import WorkerStores

/// Builds the events a worker publishes: CloudEvents with `causationid`, as outbox rows.
public struct EventFactory: Sendable {
    /// The events' `source` (`covenant/rating`).
    public let source: String

    public init(source: String) {
        self.source = source
    }

    /// The id an event goes out with: `derived` itself, or, past the 255 bytes an AMQP
    /// `message_id` (a short string) can carry, `sha256-` and the hex digest of it. Ids from
    /// upstream may be up to 1024 bytes (a customer's, in an invoice id), and a message whose id
    /// cannot be sent would hold up the outbox behind it. Still the same for the same command.
    static func eventId(_ derived: String) -> String {
        guard derived.utf8.count > 255 else { return derived }
        return "sha256-" + SHA256.hash(data: Array(derived.utf8)).hexDigits
    }

    /// An event of `type` following from command `causationId`. Its id is derived from the
    /// tenant, the command's id and `key` (default: `sequence`), so the same command always
    /// yields the same event ids, and two tenants' commands of the same id (ids are scoped by
    /// tenant) never one. Routed as ``Topology/route(event:tenantId:)`` says.
    public func event(
        _ type: String, tenantId: String, causationId: String, data: JSONValue, time: String, sequence: Int = 0,
        key: String? = nil
    ) -> OutboxMessage {
        let id = Self.eventId("\(tenantId)/\(causationId):\(type):\(key ?? String(sequence))")
        let event = CloudEvent(
            id: id, source: source, type: type, time: time, tenantId: tenantId, causationId: causationId, data: data)
        let route = Topology.route(event: type, tenantId: tenantId)
        return OutboxMessage(
            exchange: route.exchange, routingKey: route.routingKey, messageId: id, type: type,
            contentType: CloudEvent.contentType,
            body: event.encoded())
    }
}
