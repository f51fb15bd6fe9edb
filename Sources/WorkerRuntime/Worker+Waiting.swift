import AMQPClient
import BillingDomain
import CovenantMessages
import Crypto
import Foundation
import Logging
import Synchronization
import WorkerStores

/// Messages that wait: in the role's retry queues, counted, and the waits between retries.
extension Worker {
    /// A bounded wait counted against the delivery's waits so far: one more wait while it has
    /// some left (and the role has a retry queue to wait in), else its rejection.
    func settled(_ outcome: HandlerOutcome, _ delivery: AMQPDelivery) -> HandlerOutcome {
        guard case .rejectUnlessItArrives(_, _, let delay) = outcome else { return outcome }
        return DeliveryPlan.bounded(
            outcome, waitsSoFar: Self.retries(of: delivery), canWait: retryQueue(for: delay) != nil)
    }

    /// Sends a copy of the delivery to the role's retry queue (through the outbox, so it cannot
    /// be lost), with what the handler records meanwhile, and acknowledges the original; the
    /// broker brings the copy back after the delay.
    func park(
        _ delivery: AMQPDelivery, _ consumer: AMQPConsumer, reason: String, after delay: Duration,
        metadata: Logger.Metadata, recording: UnitOfWork? = nil
    ) async throws {
        guard let unit = parkingUnit(delivery, reason: reason, after: delay, metadata: metadata) else {
            // No retry queue declared: back to this queue, behind what is waiting.
            if let recording { _ = try await store.commit(recording) }
            consumer.requeue(delivery)
            return
        }
        do {
            // A recording that writes documents could meet another replica's write: then
            // nothing landed, and the message is decided again.
            if case .versionConflict = try await store.commit(unit.adding(recording)) {
                consumer.requeue(delivery)
                return
            }
        } catch {
            // The copy did not land, but what the handler recorded happened (a webhook was
            // posted): it is kept, and the message met a fault as any other.
            if let recording { _ = try? await store.commit(recording) }
            throw error
        }
        consumer.acknowledge(delivery)
        outboxBell.ring()
    }

    /// The copy of a delivery bound for the role's retry queue, as a unit of work; nil when
    /// the role has no retry queue.
    /// With `faults`, the copy waits after a fault (counted in its own header, not against the
    /// waits ``HandlerOutcome/rejectUnlessItArrives(_:attempts:after:)`` allows).
    func parkingUnit(
        _ delivery: AMQPDelivery, reason: String, after delay: Duration, metadata: Logger.Metadata,
        faults: Int? = nil
    ) -> UnitOfWork? {
        guard let retryQueue = retryQueue(for: delay) else { return nil }
        let retries = Self.retries(of: delivery)
        let level: Logger.Level = retries > 0 && retries % 100 == 0 ? .warning : .debug
        if faults == nil {
            logger.log(level: level, "waiting: \(reason)", metadata: metadata.merging(["retries": "\(retries)"]) { $1 })
        }
        var headers = [Self.retriesHeader: String(faults == nil ? retries + 1 : retries)]
        if let faults { headers[FaultPolicy.faultsHeader] = String(faults) }
        // Where it was first published (read from these same headers on a copy back from here).
        let (exchange, routingKey) = Self.origin(of: delivery)
        headers[Self.originalExchangeHeader] = exchange
        headers[Self.originalRoutingKeyHeader] = routingKey
        if let user = Self.publisher(of: delivery) { headers[Self.userHeader] = user }
        let copy = OutboxMessage(
            exchange: "", routingKey: retryQueue,
            messageId: delivery.message.messageId ?? "", type: delivery.message.type?.storableText,
            contentType: delivery.message.contentType ?? CloudEvent.contentType, headers: headers,
            body: delivery.message.body)
        return UnitOfWork(messageId: nil, outbox: [copy])
    }

    static let retriesHeader = "x-covenant-retries"
    /// Where a message set aside was first published, as the worker verified it (retry copies,
    /// dead letters, replays).
    static let originalExchangeHeader = "x-covenant-original-exchange"
    static let originalRoutingKeyHeader = "x-covenant-original-routing-key"

    /// The largest body taken from the commands exchange.
    public static let maximumCommandBytes = 1 << 20
    /// The largest body taken from the events exchange: RabbitMQ 4's default `max_message_size`.
    public static let maximumEventBytes = 16 << 20

    /// How many times the delivery has waited in a retry queue.
    static func retries(of delivery: AMQPDelivery) -> Int {
        Int(delivery.message.headers[retriesHeader]?.stringValue ?? "") ?? 0
    }

    /// The role's retry queue that waits at least `delay`; nil when it has none.
    func retryQueue(for delay: Duration) -> String? {
        let milliseconds = Int(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
        return configuration.topology.queues.first(where: { $0.name == configuration.queue })?
            .retryQueueName(atLeast: milliseconds)
    }

    /// The delivery without Covenant's own headers (`x-covenant-*`) unless it came through the
    /// default exchange, the way Covenant's retry copies come back. They decide how a message is
    /// treated (where it was first published, so its size limit and the type it may carry; its
    /// waits; its faults), and a publisher to a named exchange could set them at will: a command
    /// saying it came from `covenant.events` had been taken up to 16 MiB. (Publishing straight to
    /// a queue through the default exchange is for the broker's permissions to refuse: #33.)
    static func withoutForeignHeaders(_ delivery: AMQPDelivery) -> AMQPDelivery {
        guard !delivery.exchange.isEmpty, delivery.message.headers.keys.contains(where: { $0.hasPrefix("x-covenant-") })
        else { return delivery }
        return delivery.replacingHeaders(delivery.message.headers.filter { !$0.key.hasPrefix("x-covenant-") })
    }

    /// Where a delivery was first published: a copy back from the retry queue says so in its
    /// headers.
    static func origin(of delivery: AMQPDelivery) -> (exchange: String, routingKey: String) {
        (
            delivery.message.headers[originalExchangeHeader]?.stringValue ?? delivery.exchange,
            delivery.message.headers[originalRoutingKeyHeader]?.stringValue ?? delivery.routingKey
        )
    }

    func backoff(_ attempt: Int) -> Duration {
        DeliveryPlan.backoff(attempt: attempt, maximum: configuration.maximumBackoff)
    }
}
