import AMQPClient
import CovenantMessages
import Foundation
import Logging
import ServiceLifecycle
import WorkerStores

/// The outbox relay, a `Service` of its own: what its worker committed, published with confirms.
/// The worker runs it beside its consumer and stops it (``stopping``) once the consumer has
/// stopped, so that what the last commits wrote goes out before the process ends.
struct OutboxRelay: Service {
    let store: any DocumentStore
    let publisher: AMQPPublisher
    /// The claimant its worker's commits hand their rows to.
    let relayId: String
    let configuration: Worker.Configuration
    /// Rung after each commit: the relay publishes at once instead of at its next poll.
    let bell: Doorbell
    let stopping: StopFlag
    let metrics: WorkerMetrics
    let logger: Logger

    /// Publishes the outbox: claim a batch, publish it with confirms, mark it sent; sleep until
    /// a commit signals or a second passes (rows of other replicas, or of a relay that died).
    /// Returns once stopping and the rows it claimed are out (or given back).
    func run() async {
        var attempt = 0
        while true {
            do {
                let batch = try await store.claimOutbox(
                    limit: configuration.relayBatch, claimant: relayId, lease: configuration.relayLease)
                if batch.isEmpty {
                    // Stopping, or cancelled (then a wait would return at once, and the relay
                    // would poll without pause until the worker stops it).
                    if stopping.isSet || Task.isCancelled {
                        // Rows this relay claimed and did not publish (handed rows it gave up)
                        // go back to the table: published now, not after their lease (by the
                        // next relay, when this one was cancelled).
                        if try await store.releaseOutboxClaims(of: relayId) > 0, !Task.isCancelled { continue }
                        return
                    }
                    await bell.wait(upTo: .seconds(1))
                    continue
                }
                try await publish(batch)
                try await store.markSent(ids: batch.map(\.id))
                attempt = 0
            } catch {
                attempt += 1
                logger.warning(
                    "outbox relay failed; retrying", metadata: ["error": "\(loggableDescription(of: error))"])
                if stopping.isSet && attempt > 5 {
                    // Whatever it holds is claimable at once by the next relay, if the store answers.
                    _ = try? await store.releaseOutboxClaims(of: relayId)
                    return
                }
                try? await Task.sleep(
                    for: DeliveryPlan.backoff(attempt: attempt, maximum: configuration.maximumBackoff))
            }
        }
    }

    /// A batch published with confirms. A record the broker cannot take never holds up the
    /// outbox behind it: one larger than `maximumMessageBytes` is not sent, and when the broker
    /// refuses a message of a batch (406, as for one over its `max_message_size`), the batch is
    /// sent again one by one to find it. Such a record is set aside (``setAside(_:reason:)``).
    func publish(_ batch: [OutboxRecord]) async throws {
        let (sendable, oversized) = batch.reduce(into: ([OutboxRecord](), [OutboxRecord]())) { split, record in
            if record.message.body.count > configuration.maximumMessageBytes {
                split.1.append(record)
            } else {
                split.0.append(record)
            }
        }
        for record in oversized {
            try await setAside(
                record, reason: "larger than \(configuration.maximumMessageBytes) bytes, the most the broker takes")
        }
        do {
            logUnroutable(sendable, try await publisher.publish(sendable.map(Self.outgoing)))
        } catch let error as AMQPError where error.refusesMessage && sendable.count > 1 {
            for record in sendable {
                do {
                    logUnroutable([record], try await publisher.publish([Self.outgoing(record)]))
                } catch let error as AMQPError where error.refusesMessage {
                    try await setAside(record, reason: "refused by the broker: \(error)")
                }
            }
        } catch let error as AMQPError where error.refusesMessage {
            try await setAside(sendable[0], reason: "refused by the broker: \(error)")
        }
    }

    private func logUnroutable(_ records: [OutboxRecord], _ confirmations: [PublishConfirmation]) {
        for (record, confirmation) in zip(records, confirmations) where confirmation != .confirmed {
            logger.debug(
                "no queue is bound for \(record.message.routingKey)",
                metadata: ["message.id": "\(record.message.messageId)"])
        }
    }

    static func outgoing(_ record: OutboxRecord) -> OutgoingMessage {
        OutgoingMessage(
            AMQPMessage(
                body: record.message.body, messageId: record.message.messageId,
                contentType: record.message.contentType, type: record.message.type,
                timestamp: UInt64(Date().timeIntervalSince1970),
                headers: record.message.headers.mapValues(AMQPFieldValue.string)),
            exchange: record.message.exchange, routingKey: record.message.routingKey)
    }

    /// A record the broker cannot take, replaced by a notice in the worker's dead-letter queue
    /// (what it was, where it was going, how large, why: `covenant dead list`), an error logged
    /// and `covenant_outbox_refused_total` counted. The relay then marks it sent with the rest.
    func setAside(_ record: OutboxRecord, reason: String) async throws {
        metrics.outboxRefused.increment()
        logger.error(
            "outbox message set aside: \(reason)",
            metadata: [
                "message.id": "\(record.message.messageId)", "routing.key": "\(record.message.routingKey)",
                "bytes": "\(record.message.body.count)",
            ])
        let notice: JSONValue = .object([
            "message_id": .string(record.message.messageId), "type": .string(record.message.type ?? ""),
            "exchange": .string(record.message.exchange), "routing_key": .string(record.message.routingKey),
            "bytes": .number(String(record.message.body.count)),
        ])
        _ = try await publisher.publish(
            AMQPMessage(
                body: notice.serialized(), messageId: record.message.messageId, contentType: "application/json",
                type: record.message.type, timestamp: UInt64(Date().timeIntervalSince1970),
                headers: [
                    "x-covenant-reason-code": .string("message_too_large"), "x-covenant-reason": .string(reason),
                ]),
            exchange: Topology.deadExchange, routingKey: configuration.queue)
    }
}

extension AMQPError {
    /// The broker refused a message itself: 406 PRECONDITION_FAILED closing the channel, as for
    /// a body over its `max_message_size`. A negative confirm is not that: the broker could not
    /// store the message now (a queue full under `reject-publish`, say), and the relay tries the
    /// batch again later, as for any fault, rather than give the message up.
    var refusesMessage: Bool {
        code == .channelClosed && replyCode == 406
    }
}
