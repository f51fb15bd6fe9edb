import AMQPClient
import BillingDomain
import CovenantMessages
import Crypto
import Foundation
import Logging
import Synchronization
import WorkerStores

/// Deliveries taken in runs: decided together, committed in one transaction, settled.
extension Worker {
    // MARK: Consuming

    /// One log line per invoice a message issued, with its invoice and customer ids.
    /// One structured line per invoice a unit issued, from the unit's invoices (not by reading
    /// its events back: that had cost invoicing 8 % of its time in a billing run).
    func logIssued(_ unit: UnitOfWork, _ metadata: @autoclosure () -> Logger.Metadata) {
        guard !unit.invoices.isEmpty else { return }
        let metadata = metadata()
        for invoice in unit.invoices {
            logger.info(
                "invoice issued",
                metadata: metadata.merging([
                    "invoice.id": "\(invoice.invoiceId)", "customer.id": "\(invoice.customerId)",
                    "total": "\(invoice.total.exactDecimalText ?? invoice.total.description) \(invoice.currency)",
                ]) {
                    $1
                })
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// Deliveries in order: runs of consecutive batchable messages together, the rest one by one.
    /// A run holds at most `batchSize` items: messages, or the records of an event that
    /// carries many (`usage.rated`), so that a batch of such events reads and writes no more
    /// customers' documents than a batch of single messages. For a handler that
    /// ``MessageHandler/decidesAheadOfCommit``, a run is decided while the run before it
    /// commits; anything else waits for that commit first.
    /// Returns how many of the deliveries went on to commit in the background.
    func process(
        _ deliveries: [AMQPDelivery], _ consumer: AMQPConsumer, _ committing: inout Committing,
        taken: ContinuousClock.Instant
    ) async -> Int {
        var run: [Accepted] = []
        var items = 0
        var handedOn = 0
        for delivery in deliveries.map(Self.withoutForeignHeaders) {
            let redelivery = Self.isRedelivery(delivery)
            if redelivery { metrics.redelivered.increment() }
            let decoded = readEnvelope(delivery)
            if !redelivery, case .success(let event) = decoded, batchableTypes.contains(event.type) {
                let size = max(1, event.recordCount)
                if items + size > configuration.batchSize {
                    handedOn += await process(run, consumer, &committing, taken: taken)
                    run = []
                    items = 0
                }
                run.append(Accepted(delivery: delivery, event: event))
                items += size
                continue
            }
            handedOn += await process(run, consumer, &committing, taken: taken)
            run = []
            items = 0
            await committing.finish()
            if redelivery {
                await processRedelivery(delivery, decoded, consumer)
            } else {
                await process(delivery, decoded, consumer)
            }
        }
        return handedOn + (await process(run, consumer, &committing, taken: taken))
    }

    /// A run decided, then settled: committed and acknowledged in the background when the
    /// handler decides ahead of commits (after the run before it has settled), else here.
    /// Returns the number of messages left committing in the background.
    func process(
        _ run: [Accepted], _ consumer: AMQPConsumer, _ committing: inout Committing, taken: ContinuousClock.Instant
    ) async -> Int {
        guard !run.isEmpty else { return 0 }
        if !decidesAheadOfCommit { await committing.finish() }
        let decision = await decide(run)
        guard decidesAheadOfCommit, case .decided = decision else {
            await committing.finish()
            await settle(decision, consumer)
            return 0
        }
        await committing.finish()
        committing.task = Task {
            await self.settle(decision, consumer)
            self.recordLatency(of: run.count, since: taken)
        }
        // Stopping already: the run still commits, but its retries of faults give up at once.
        if Task.isCancelled { committing.task?.cancel() }
        return run.count
    }

    /// The run settling in the background, if any: at most one, so commits and their
    /// acknowledgements keep the order of the deliveries.
    struct Committing {
        var task: Task<Void, Never>?

        /// Waits for the run to settle. Cancelled (the worker's task is), it cancels the run's
        /// task too, as its work would have been were it done in line: a message whose retry
        /// of a fault is cut short stays unacknowledged and returns to the queue.
        mutating func finish() async {
            guard let task else { return }
            await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
            self.task = nil
        }
    }

    /// The handling time of messages taken from the consumer at `since`, each.
    func recordLatency(of count: Int, since: ContinuousClock.Instant) {
        let elapsed = Self.nanoseconds(ContinuousClock.now - since)
        for _ in 0..<count { metrics.latency.recordNanoseconds(elapsed) }
    }

    /// A delivery whose envelope was accepted: a reference, since a batch passes its items
    /// through several arrays (copying the delivery and the event retained each of their parts).
    final class Accepted: Sendable {
        let delivery: AMQPDelivery
        let event: CloudEvent

        init(delivery: AMQPDelivery, event: CloudEvent) {
            self.delivery = delivery
            self.event = event
        }
    }

    func metadata(_ delivery: AMQPDelivery, _ event: CloudEvent?) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "message.id": "\(delivery.message.messageId ?? "-")", "routing.key": "\(delivery.routingKey)",
        ]
        if let event {
            metadata["tenant.id"] = "\(event.tenantId)"
            if case .string(let customer) = event.data["customer_id"] { metadata["customer.id"] = "\(customer)" }
        }
        return metadata
    }

    /// A run of batchable messages decided: the inbox read once, the handler deciding them
    /// together. What is left to do is ``settle(_:_:)``'s.
    enum RunDecision: Sendable {
        /// Messages to handle one by one: a run of one, or a run whose reads failed.
        case oneByOne([Accepted])
        case decided(DecidedRun)
    }

    struct DecidedRun: Sendable {
        /// The run's messages, each once, and those seen twice in it (a redelivery: handled
        /// one by one after the run).
        let fresh: [Accepted]
        let repeated: [Accepted]
        /// Among `fresh`, the ones the inbox already held, and the rest with their outcomes.
        let handled: Set<String>
        let pending: [Accepted]
        let outcomes: [HandlerOutcome]
        /// One per outcome but those in `requeue` (to wait with no retry queue to wait in).
        let units: [UnitOfWork]
        let requeue: Set<String>
    }

    func decide(_ run: [Accepted]) async -> RunDecision {
        // One message alone goes one by one, unless it carries many records: this path reads
        // their customers' documents at once.
        guard run.count > 1 || run.contains(where: { $0.event.recordCount > 1 }) else { return .oneByOne(run) }
        // The same message twice in one batch (a redelivery): the second waits for the first.
        var seen = Set<String>()
        let (fresh, repeated) = run.reduce(into: ([Accepted](), [Accepted]())) { split, item in
            if seen.insert(item.event.id).inserted { split.0.append(item) } else { split.1.append(item) }
        }
        do {
            let handled = try await store.handledMessages(among: fresh.map(\.event.id))
            let pending = fresh.filter { !handled.contains($0.event.id) }
            let decided = try await handler.handle(batch: pending.map(\.event))
            guard decided.count == pending.count else {
                throw StoreError("the handler decided \(decided.count) of \(pending.count) messages")
            }
            let outcomes = zip(decided, pending).map { settled($0, $1.delivery) }
            var units: [UnitOfWork] = []
            var requeue: Set<String> = []
            for (item, outcome) in zip(pending, outcomes) {
                switch outcome {
                case .commit(var unit):
                    unit.messageId = item.event.id
                    units.append(unit)
                case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                    units.append(
                        rejectionUnit(
                            item.delivery, commandId: item.event.id, commandType: item.event.type,
                            tenantId: item.event.tenantId, rejection: rejection))
                case .retryLater(let reason, let delay):
                    if let unit = parkingUnit(
                        item.delivery, reason: reason, after: delay, metadata: metadata(item.delivery, item.event))
                    {
                        units.append(unit)
                    } else {
                        requeue.insert(item.event.id)
                    }
                }
            }
            return .decided(
                DecidedRun(
                    fresh: fresh, repeated: repeated, handled: handled, pending: pending, outcomes: outcomes,
                    units: units, requeue: requeue))
        } catch {
            metrics.faults.increment()
            logger.warning(
                "deciding a batch failed; handling its messages one by one",
                metadata: ["error": "\(loggableDescription(of: error))", "messages": "\(run.count)"])
            return .oneByOne(fresh + repeated)
        }
    }

    /// A decided run committed in one transaction (a savepoint per message, or all together),
    /// then acknowledged. A fault or a version conflict sends the messages concerned down the
    /// one-by-one path, which retries.
    func settle(_ decision: RunDecision, _ consumer: AMQPConsumer) async {
        switch decision {
        case .oneByOne(let items):
            for item in items { await process(item.delivery, .success(item.event), consumer) }
        case .decided(let run):
            await settle(run, consumer)
        }
    }

    /// Commits a decided run, acknowledges what landed, and handles the rest one by one.
    func settle(_ run: DecidedRun, _ consumer: AMQPConsumer) async {
        var retry: [Accepted] = []
        do {
            // A batch that did not land all together goes one by one (and each message sees the
            // repeat, or what another replica wrote).
            let committed = try await store.commit(decided: run.units)
            outboxBell.ring()
            var unitIndex = 0
            for (item, outcome) in zip(run.pending, run.outcomes) {
                if run.requeue.contains(item.event.id) {
                    consumer.requeue(item.delivery)
                    continue
                }
                let result = committed[unitIndex]
                unitIndex += 1
                switch (outcome, result) {
                case (_, .versionConflict):
                    retry.append(item)
                case (.commit(let unit), _):
                    consumer.acknowledge(item.delivery)
                    metrics.handled.increment()
                    logIssued(unit, metadata(item.delivery, item.event))
                case (.reject(let rejection), _), (.rejectUnlessItArrives(let rejection, _, _), _):
                    logRejection(item.event.id, rejection)
                    consumer.acknowledge(item.delivery)
                case (.retryLater, _):
                    metrics.deferred.increment()
                    consumer.acknowledge(item.delivery)
                }
            }
            for item in run.fresh where run.handled.contains(item.event.id) {
                consumer.acknowledge(item.delivery)
                metrics.handled.increment()
            }
        } catch {
            metrics.faults.increment()
            logger.warning(
                "committing a batch failed; handling its messages one by one",
                metadata: ["error": "\(loggableDescription(of: error))", "messages": "\(run.fresh.count)"])
            retry = run.fresh
        }
        for item in retry + run.repeated { await process(item.delivery, .success(item.event), consumer) }
    }
}
