import Synchronization

/// Deliveries between a consumer's stream and the code that handles them, taken in batches:
/// whatever has arrived, up to a limit, without waiting for more. Fill it from
/// ``AMQPConsumer/deliveries`` in a task of its own and ``finish()`` when the stream ends.
public final class DeliveryBatches: Sendable {
    private struct State {
        var deliveries: [AMQPDelivery] = []
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func append(_ delivery: AMQPDelivery) {
        let waiter = state.withLock { state in
            state.deliveries.append(delivery)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    public func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The deliveries waiting, oldest first, at most `limit`; waits for one when none is. Nil
    /// once finished: deliveries still buffered then are dropped unacknowledged, and the broker
    /// delivers them again.
    public func next(upTo limit: Int) async -> [AMQPDelivery]? {
        while true {
            let taken = state.withLock { state -> [AMQPDelivery]?? in
                if state.finished { return .some(nil) }
                guard !state.deliveries.isEmpty else { return nil }
                let count = min(limit, state.deliveries.count)
                defer { state.deliveries.removeFirst(count) }
                return .some(Array(state.deliveries.prefix(count)))
            }
            if let taken { return taken }
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.finished || !state.deliveries.isEmpty { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }
}
