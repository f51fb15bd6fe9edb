import AMQPClient
import BillingDomain
import CovenantMessages
import Crypto
import Foundation
import Logging
import Synchronization
import WorkerStores

/// The outbox relay: what this worker committed, published with confirms.
extension Worker {
    // MARK: Relay

    /// Publishes the outbox: claim a batch, publish it with confirms, mark it sent; sleep until
    /// a commit signals or a second passes (rows of other replicas, or of a relay that died).
    func relay(_ publisher: AMQPPublisher, stopping: StopFlag) async {
        var attempt = 0
        while true {
            do {
                let batch = try await store.claimOutbox(
                    limit: configuration.relayBatch, claimant: relayId, lease: configuration.relayLease)
                if batch.isEmpty {
                    if stopping.isSet {
                        // Rows this relay claimed and did not publish (handed rows it gave up)
                        // go back to the table: published now, not after their lease.
                        if try await store.releaseOutboxClaims(of: relayId) > 0 { continue }
                        return
                    }
                    await outboxBell.wait(upTo: .seconds(1))
                    continue
                }
                let confirmations = try await publisher.publish(
                    batch.map { record in
                        OutgoingMessage(
                            AMQPMessage(
                                body: record.message.body, messageId: record.message.messageId,
                                contentType: record.message.contentType, type: record.message.type,
                                timestamp: UInt64(Date().timeIntervalSince1970),
                                headers: record.message.headers.mapValues(AMQPFieldValue.string)),
                            exchange: record.message.exchange, routingKey: record.message.routingKey)
                    })
                for (record, confirmation) in zip(batch, confirmations) where confirmation != .confirmed {
                    logger.debug(
                        "no queue is bound for \(record.message.routingKey)",
                        metadata: ["message.id": "\(record.message.messageId)"])
                }
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
                try? await Task.sleep(for: backoff(attempt))
            }
        }
    }
}
