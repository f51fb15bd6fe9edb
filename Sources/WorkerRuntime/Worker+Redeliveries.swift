import AMQPClient
import BillingDomain
import CovenantMessages
import Logging
import WorkerStores

/// Messages that may have killed their worker.
///
/// A message whose handling traps, exhausts memory or hangs until the process is killed never
/// reaches ``FaultPolicy``: nothing is thrown, the worker is gone, and the broker gives the
/// message to the next worker, which dies the same way. The broker marks such a delivery
/// (`redelivered`, and quorum queues count `x-delivery-count`), but it marks every message the
/// dead worker had prefetched alike, the innocent with the guilty (the broker's count is logged
/// when a message is set aside). So a redelivered message is
/// handled alone, and the worker records in its store that it began it before it does; a normal
/// end clears the record. A message found begun `crashLimit` times without an end is set aside
/// without another try: `command.rejected` `internal_error`, its dead-letter queue, and
/// `covenant_messages_quarantined_total`. The queue's `x-delivery-limit` (``Topology``) is the
/// broker's own backstop, for a message that kills a worker before it can even record a try.
extension Worker {
    static let attemptKind = "delivery_attempt"

    /// Whether the broker has delivered this message before without its being settled: its
    /// own `redelivered` flag, which no publisher can set (`x-delivery-count` is a header, and a
    /// publisher could send every message with one, to make each cost a try recorded alone).
    static func isRedelivery(_ delivery: AMQPDelivery) -> Bool {
        delivery.redelivered
    }

    /// A redelivered message handled alone, its try recorded first.
    func processRedelivery(
        _ delivery: AMQPDelivery, _ decoded: Result<CloudEvent, Rejection>, _ consumer: AMQPConsumer
    ) async {
        // A message the envelope refuses is never handled: nothing to count.
        guard case .success(let event) = decoded else { return await process(delivery, decoded, consumer) }
        let key = event.inboxKey
        var begun = 0
        do {
            if try await store.hasHandled(event) {
                consumer.acknowledge(delivery)
                metrics.handled.increment()
                return
            }
            let kept = try await store.document(kind: Self.attemptKind, key: key)
            begun = kept.flatMap { Self.attempts(in: $0.body) } ?? 0
            if begun >= configuration.crashLimit {
                await quarantine(
                    delivery, event, consumer, log: "set aside: begun \(begun) times without an end; internal_error",
                    metadata: metadata(delivery, event).merging([
                        "attempts": "\(begun)", "delivery.count": "\(delivery.deliveryCount)",
                    ]) { $1 },
                    reason: "the message was begun \(begun) times and its worker stopped each time",
                    details: ["attempts": String(begun)])
                return
            }
            begun += 1
            _ = try await store.commit(
                UnitOfWork(messageId: nil, documents: [Self.attemptWrite(key, begun, over: kept?.version ?? 0)]))
        } catch {
            // The store is away: the one-by-one path retries as it would any message.
            begun = 0
        }
        await process(delivery, decoded, consumer)
        guard begun > 0, !Task.isCancelled else { return }
        // It ended (committed, rejected, parked or requeued): the tries so far were no crash.
        if let kept = try? await store.document(kind: Self.attemptKind, key: key) {
            _ = try? await store.commit(
                UnitOfWork(messageId: nil, documents: [Self.attemptWrite(key, 0, over: kept.version)]))
        }
    }

    static func attemptWrite(_ key: String, _ attempts: Int, over version: Int64) -> DocumentWrite {
        DocumentWrite(
            kind: attemptKind, key: key, json: .object(["begun": .number(String(attempts))]),
            expectedVersion: version)
    }

    static func attempts(in body: [UInt8]) -> Int? {
        guard case .number(let text) = JSONValue.parse(body)?["begun"] else { return nil }
        return Int(text)
    }
}
