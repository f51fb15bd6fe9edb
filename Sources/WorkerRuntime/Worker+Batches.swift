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

    /// Deliveries in order, as ``DeliveryPlan/steps(_:batchSize:)`` plans them. For a handler
    /// that ``MessageHandler/decidesAheadOfCommit``, a run is decided while the run before it
    /// commits in `committing` (a child task, at most one at a time); anything else waits for
    /// that commit first. Returns how many of the deliveries went on to commit in the background.
    func process(
        _ deliveries: [AMQPDelivery], _ consumer: AMQPConsumer, _ committing: inout TaskGroup<Void>,
        taken: ContinuousClock.Instant
    ) async -> Int {
        let deliveries = deliveries.map(Self.withoutForeignHeaders)
        let decoded = await entitled(deliveries, deliveries.map(readEnvelope))
        let intakes = zip(deliveries, decoded).map { delivery, decoded in
            let event = try? decoded.get()
            return DeliveryPlan.Intake(
                redelivered: Self.isRedelivery(delivery),
                batchable: event.map { batchableTypes.contains($0.type) } ?? false, weight: event?.recordCount ?? 1)
        }
        metrics.redelivered.increment(by: intakes.count(where: \.redelivered))
        var handedOn = 0
        for step in DeliveryPlan.steps(intakes, batchSize: configuration.batchSize) {
            switch step {
            case .run(let indexes):
                let run = indexes.compactMap { index in
                    (try? decoded[index].get()).map { Accepted(delivery: deliveries[index], event: $0) }
                }
                handedOn += await process(run, consumer, &committing, taken: taken)
            case .alone(let index):
                await committing.waitForAll()
                await process(deliveries[index], decoded[index], consumer)
            case .redelivery(let index):
                await committing.waitForAll()
                await processRedelivery(deliveries[index], decoded[index], consumer)
            }
        }
        return handedOn
    }

    /// A run decided, then settled: committed and acknowledged in the background when the
    /// handler decides ahead of commits (after the run before it has settled), else here.
    /// Returns the number of messages left committing in the background. The background commit
    /// is a child of `committing`: cancelled with the worker's task, as its work would have been
    /// were it done in line (a message whose retry of a fault is cut short stays unacknowledged
    /// and returns to the queue).
    func process(
        _ run: [Accepted], _ consumer: AMQPConsumer, _ committing: inout TaskGroup<Void>,
        taken: ContinuousClock.Instant
    ) async -> Int {
        guard !run.isEmpty else { return 0 }
        if !decidesAheadOfCommit { await committing.waitForAll() }
        let decision = await decide(run)
        await committing.waitForAll()
        guard decidesAheadOfCommit, case .decided = decision else {
            await settle(decision, consumer)
            return 0
        }
        committing.addTask {
            await self.settle(decision, consumer)
            self.recordLatency(of: run.count, since: taken)
        }
        return run.count
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
        let decided: [DeliveryPlan.Decided]
        /// One per outcome that ``DeliveryPlan/Decided/commits``.
        let units: [UnitOfWork]
    }

    func decide(_ run: [Accepted]) async -> RunDecision {
        // One message alone goes one by one, unless it carries many records: this path reads
        // their customers' documents at once.
        guard run.count > 1 || run.contains(where: { $0.event.recordCount > 1 }) else { return .oneByOne(run) }
        let (first, repeats) = DeliveryPlan.firstSeen(run.map(\.event.inboxKey))
        let fresh = first.map { run[$0] }
        let repeated = repeats.map { run[$0] }
        do {
            let handled = try await store.handled(fresh.map(\.event))
            let pending = fresh.filter { !handled.contains($0.event.inboxKey) }
            let decided = try await handler.handle(batch: pending.map(\.event))
            guard decided.count == pending.count else {
                throw StoreError(.inconsistent, "the handler decided \(decided.count) of \(pending.count) messages")
            }
            let outcomes = zip(decided, pending).map { settled($0, $1.delivery) }
            var units: [UnitOfWork] = []
            var kinds: [DeliveryPlan.Decided] = []
            for (item, outcome) in zip(pending, outcomes) {
                switch outcome {
                case .commit(var unit):
                    unit.messageId = item.event.inboxKey
                    units.append(unit)
                    kinds.append(.commit)
                case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                    units.append(
                        rejectionUnit(
                            item.delivery, commandId: item.event.id, commandType: item.event.type,
                            tenantId: item.event.tenantId, rejection: rejection))
                    kinds.append(.reject)
                case .retryLater(let reason, let delay, let recording):
                    let parked = parkingUnit(
                        item.delivery, reason: reason, after: delay, metadata: metadata(item.delivery, item.event))
                    if let unit = parked.map({ $0.adding(recording) }) ?? recording { units.append(unit) }
                    kinds.append(parked == nil ? .requeue(recording: recording != nil) : .wait)
                }
            }
            return .decided(
                DecidedRun(
                    fresh: fresh, repeated: repeated, handled: handled, pending: pending, outcomes: outcomes,
                    decided: kinds, units: units))
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

    /// Commits a decided run, settles each message as ``DeliveryPlan/settlements(_:results:)``
    /// says, and handles the rest one by one.
    func settle(_ run: DecidedRun, _ consumer: AMQPConsumer) async {
        // A batch that did not land all together goes one by one (and each message sees the
        // repeat, or what another replica wrote).
        var results: [CommitOutcome]?
        do {
            results = try await store.commit(decided: run.units)
            outboxBell.ring()
        } catch {
            metrics.faults.increment()
            logger.warning(
                "committing a batch failed; handling its messages one by one",
                metadata: ["error": "\(loggableDescription(of: error))", "messages": "\(run.fresh.count)"])
        }
        var alone: [Accepted] = []
        // What handlers recorded of messages whose units did not land: it happened all the same
        // (a webhook was posted), so it is kept before they are handled again.
        var recordings: [UnitOfWork] = []
        for settlement in DeliveryPlan.settlements(run.decided, results: results) {
            switch settlement {
            case .handled(let index):
                let item = run.pending[index]
                consumer.acknowledge(item.delivery)
                metrics.handled.increment()
                if case .commit(let unit) = run.outcomes[index] { logIssued(unit, metadata(item.delivery, item.event)) }
            case .rejected(let index):
                let item = run.pending[index]
                switch run.outcomes[index] {
                case .reject(let rejection), .rejectUnlessItArrives(let rejection, _, _):
                    logRejection(item.event.id, rejection)
                case .commit, .retryLater: break
                }
                consumer.acknowledge(item.delivery)
            case .deferred(let index):
                metrics.deferred.increment()
                consumer.acknowledge(run.pending[index].delivery)
            case .requeue(let index):
                consumer.requeue(run.pending[index].delivery)
            case .alone(let index):
                alone.append(run.pending[index])
                recordings += run.outcomes[index].recording.map { [$0] } ?? []
            }
        }
        if results == nil {
            // Every pending message is already alone (and its recording kept); the ones the
            // inbox held go too, as before.
            alone = run.fresh
        } else {
            for item in run.fresh where run.handled.contains(item.event.inboxKey) {
                consumer.acknowledge(item.delivery)
                metrics.handled.increment()
            }
        }
        for recording in recordings { _ = try? await store.commit(recording) }
        for item in alone + run.repeated { await process(item.delivery, .success(item.event), consumer) }
    }
}
