import AMQPClient
import BillingDomain
import CovenantMessages
import Logging
import WorkerStores

/// What a worker does with a message that met a fault (a thrown error: not a rejection, not a
/// version conflict), by how many faults it has met while the store still answered.
///
/// A fault the store can record is the message's own: the database answers, and the message
/// failed anyway (a stored document it cannot read, a bug its data reaches). Such a message waits
/// in the role's retry queues, longer each time, while the queue behind it goes on; after
/// `limit` faults it is set aside: `command.rejected` `internal_error` and its dead-letter queue,
/// for an operator (`covenant dead list|replay`). A fault the store cannot record (the database
/// is away) says nothing of the message: the worker retries it in place with back-off, as every
/// other message would fail the same way (docs/reliability.md).
public struct FaultPolicy: Sendable, Hashable {
    public enum Decision: Sendable, Hashable {
        /// Wait this long in the retry queue, counted as fault number `faults`.
        case wait(milliseconds: Int, faults: Int)
        /// Set aside: `internal_error`.
        case setAside(faults: Int)
        /// The role has no retry queue: retry in place.
        case retryInPlace
    }

    /// The header a parked copy carries its faults in.
    public static let faultsHeader = "x-covenant-faults"

    public let limit: Int
    /// The role's retry queues' delays, shortest first.
    public let retryDelaysMilliseconds: [Int]

    public init(limit: Int, retryDelaysMilliseconds: [Int]) {
        self.limit = max(1, limit)
        self.retryDelaysMilliseconds = retryDelaysMilliseconds.sorted()
    }

    /// The decision for a message that has met `faultsBefore` faults and now one more; one no
    /// retry can mend (``isRetryable(_:)``) is set aside at once.
    public func decide(faultsBefore: Int, retryable: Bool = true) -> Decision {
        let faults = max(0, faultsBefore) + 1
        if !retryable || faults >= limit { return .setAside(faults: faults) }
        guard !retryDelaysMilliseconds.isEmpty else { return .retryInPlace }
        return .wait(
            milliseconds: retryDelaysMilliseconds[min(faults - 1, retryDelaysMilliseconds.count - 1)], faults: faults)
    }

    /// Whether trying again may mend a fault: not for a ``StoreError`` whose code says so
    /// (stored state that cannot be read, a broken contract); yes for anything else (the
    /// databases' own errors, a connection lost, a bug a later deployment fixes).
    public static func isRetryable(_ error: any Error) -> Bool {
        StoreError.carried(by: error)?.isRetryable ?? true
    }

    /// The faults a delivery met before, from its header (0 for a first delivery).
    static func faults(of message: AMQPMessage) -> Int {
        Int(message.headers[faultsHeader]?.stringValue ?? "").map { max(0, $0) } ?? 0
    }
}

extension Worker {
    /// The policy of this worker's queue.
    var faultPolicy: FaultPolicy {
        FaultPolicy(
            limit: configuration.faultLimit,
            retryDelaysMilliseconds: configuration.topology.queues.first { $0.name == configuration.queue }?
                .retryDelaysMilliseconds ?? [])
    }

    /// Sets a message aside for an operator: `command.rejected` `internal_error`, its dead-letter
    /// queue, `covenant_messages_quarantined_total` (an alert's series) and an error logged.
    func quarantine(
        _ delivery: AMQPDelivery, _ event: CloudEvent, _ consumer: AMQPConsumer, log: String,
        metadata: Logger.Metadata, reason: String, details: [String: String]
    ) async {
        metrics.quarantined.increment()
        logger.error("\(log)", metadata: metadata)
        await reject(
            delivery, consumer, commandId: event.id, commandType: event.type, tenantId: event.tenantId,
            rejection: Rejection(.internalError, reason, details: details))
    }

    /// Sets a faulting message aside, or parks it to wait, when the store can record that; true
    /// when the delivery is settled, false when the caller retries it in place.
    func setAside(
        _ delivery: AMQPDelivery, _ event: CloudEvent, _ consumer: AMQPConsumer, after error: any Error,
        metadata: Logger.Metadata
    ) async -> Bool {
        // Stopping: the delivery goes back to the queue unacknowledged, no fault of its own.
        if error is CancellationError || Task.isCancelled { return false }
        let cause = loggableDescription(of: error)
        let fault = StoreError.carried(by: error)
        let retryable = FaultPolicy.isRetryable(error)
        if let fault, fault.code == .corruptState {
            metrics.corruptState.increment()
            logger.error("stored state cannot be read", metadata: metadata.merging(["error": "\(fault)"]) { $1 })
        }
        switch faultPolicy.decide(faultsBefore: FaultPolicy.faults(of: delivery.message), retryable: retryable) {
        case .retryInPlace:
            return false
        case .setAside(let faults) where !retryable:
            let code = fault?.code.name ?? "permanent"
            await quarantine(
                delivery, event, consumer, log: "set aside: a fault no retry mends (\(code)); internal_error",
                metadata: metadata.merging(["error": "\(cause)", "faults": "\(faults)"]) { $1 },
                reason: "the message met a fault no retry mends: \(code)", details: ["fault": code])
            return true
        case .setAside(let faults):
            // The reason names no stored value: the error's own text stays in the log.
            await quarantine(
                delivery, event, consumer, log: "set aside after \(faults) faults: internal_error",
                metadata: metadata.merging(["error": "\(cause)", "faults": "\(faults)"]) { $1 },
                reason: "the message failed \(faults) times while the worker's store answered",
                details: ["faults": String(faults)])
            return true
        case .wait(let milliseconds, let faults):
            guard
                let unit = parkingUnit(
                    delivery, reason: "fault \(faults)", after: .milliseconds(milliseconds), metadata: metadata,
                    faults: faults)
            else { return false }
            do {
                _ = try await store.commit(unit)
            } catch {
                return false  // the store is away too: a fault of the store, not of the message
            }
            logger.warning(
                "handling failed; waiting \(milliseconds) ms (fault \(faults) of \(faultPolicy.limit))",
                metadata: metadata.merging(["error": "\(cause)"]) { $1 })
            consumer.acknowledge(delivery)
            outboxBell.ring()
            return true
        }
    }
}
