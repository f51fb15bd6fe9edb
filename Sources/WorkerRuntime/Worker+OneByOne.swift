import AMQPClient
import BillingDomain
import CovenantMessages
import Crypto
import Foundation
import Logging
import Synchronization
import WorkerStores

/// A delivery handled alone: the inbox, the handler, the commit, retries of conflicts and faults.
extension Worker {
    func process(
        _ delivery: AMQPDelivery, _ decoded: Result<CloudEvent, Rejection>, _ consumer: AMQPConsumer
    ) async {
        let messageId = delivery.message.messageId
        guard case .success(let event) = decoded else {
            if case .failure(let rejection) = decoded {
                await reject(
                    delivery, consumer,
                    commandId: messageId.flatMap { $0.isEmpty ? nil : $0 }
                        ?? Self.anonymousCommandId(of: delivery.message.body),
                    commandType: delivery.message.type ?? delivery.routingKey,
                    tenantId: Self.bestEffortTenant(delivery.message.body), rejection: rejection)
            }
            return
        }
        let metadata = metadata(delivery, event)
        var attempt = 0
        while true {
            attempt += 1
            do {
                if try await store.hasHandled(event) {
                    consumer.acknowledge(delivery)
                    metrics.handled.increment()
                    return
                }
                let decided =
                    event.type == AccessChanged.type ? try await applyAccess(event) : try await handler.handle(event)
                switch settled(decided, delivery) {
                case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                    await reject(
                        delivery, consumer, commandId: event.id, commandType: event.type, tenantId: event.tenantId,
                        rejection: rejection)
                    return
                case .retryLater(let reason, let delay, let recording):
                    try await park(
                        delivery, consumer, reason: reason, after: delay, metadata: metadata, recording: recording)
                    metrics.deferred.increment()
                    return
                case .commit(var unit):
                    unit.messageId = event.inboxKey
                    let result = try await store.commit(unit)
                    switch DeliveryPlan.afterCommit(
                        result, attempt: attempt, conflictRetries: configuration.conflictRetries)
                    {
                    case .acknowledge:
                        consumer.acknowledge(delivery)
                        outboxBell.ring()
                        metrics.handled.increment()
                        logIssued(unit, metadata)
                        return
                    case .decideAgain:
                        // Another replica changed the entity first: decide again on fresh state.
                        logger.debug("version conflict (\(result)); retrying", metadata: metadata)
                    case .requeue:
                        logger.warning("version conflicts persist; requeueing", metadata: metadata)
                        consumer.requeue(delivery)
                        return
                    }
                }
            } catch {
                // A fault, not bad input. One the store can still record is this message's own:
                // it waits in the retry queue, counted, and is set aside after a few (the queue
                // goes on meanwhile). One it cannot record (the database is away) is retried here.
                metrics.faults.increment()
                if await setAside(delivery, event, consumer, after: error, metadata: metadata) { return }
                let delay = backoff(attempt)
                logger.warning(
                    "handling failed; retrying in \(delay)",
                    metadata: metadata.merging(["error": "\(loggableDescription(of: error))"]) { $1 })
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    // Shutting down: leave the message unacknowledged; it returns to the queue.
                    return
                }
            }
        }
    }
}
