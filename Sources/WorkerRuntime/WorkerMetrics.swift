import Metrics

/// What a worker counts, through swift-metrics (Prometheus in the worker processes, nothing when
/// no backend is bootstrapped, as in unit tests). Names follow Prometheus conventions; every
/// series carries the worker's queue.
public struct WorkerMetrics: Sendable {
    public let queue: String
    let handled: Counter
    let redelivered: Counter
    let deferred: Counter
    let faults: Counter
    let latency: Metrics.Timer
    let outboxBacklog: Gauge
    let reconnects: Counter
    /// Messages set aside after repeated faults (``FaultPolicy``): an alert's series.
    let quarantined: Counter
    /// Outbox messages the broker cannot take, set aside (`Worker+Relay`).
    let outboxRefused: Counter
    /// Faults of stored state that cannot be read (``StoreError/Code/corruptState``): an
    /// alert's series.
    let corruptState: Counter

    public init(queue: String) {
        self.queue = queue
        let labels = [("queue", queue)]
        handled = Counter(label: "covenant_messages_handled_total", dimensions: labels)
        redelivered = Counter(label: "covenant_messages_redelivered_total", dimensions: labels)
        deferred = Counter(label: "covenant_messages_deferred_total", dimensions: labels)
        faults = Counter(label: "covenant_messages_retried_total", dimensions: labels)
        latency = Metrics.Timer(label: "covenant_message_handling_seconds", dimensions: labels)
        outboxBacklog = Gauge(label: "covenant_outbox_backlog", dimensions: labels)
        reconnects = Counter(label: "covenant_broker_reconnects_total", dimensions: labels)
        quarantined = Counter(label: "covenant_messages_quarantined_total", dimensions: labels)
        outboxRefused = Counter(label: "covenant_outbox_refused_total", dimensions: labels)
        corruptState = Counter(label: "covenant_corrupt_state_total", dimensions: labels)
    }

    /// A rejection, by the spec's code.
    func rejected(_ code: String) {
        Counter(label: "covenant_messages_rejected_total", dimensions: [("queue", queue), ("code", code)]).increment()
    }
}
