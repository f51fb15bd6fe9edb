import Synchronization

/// A consumer's deliveries between its connection thread and the code that handles them. The
/// thread appends each delivery; a handler takes whatever has arrived, up to a limit, without
/// waiting for more. A task waiting for deliveries is resumed once for all that arrived
/// meanwhile, not once per delivery (a stream of single deliveries had cost a task switch
/// or more for every message).
final class DeliveryBatches: Sendable {
    private struct State {
        var deliveries: [AMQPDelivery] = []
        /// The first delivery not taken yet: taken ones are dropped when the buffer empties.
        var start = 0
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func append(_ delivery: AMQPDelivery) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.deliveries.append(delivery)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// No more deliveries are taken: ``next(upTo:)`` returns nil from now on, including to a
    /// task waiting in it. Deliveries still buffered are never handed out (unacknowledged,
    /// the broker delivers them again).
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            state.deliveries.removeAll()
            state.start = 0
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The deliveries waiting, oldest first, at most `limit`; waits for one when none is. Nil
    /// once finished.
    func next(upTo limit: Int) async -> [AMQPDelivery]? {
        precondition(limit > 0, "a batch takes at least one delivery")
        while true {
            let taken = state.withLock { state -> [AMQPDelivery]?? in
                if state.finished { return .some(nil) }
                let waiting = state.deliveries.count - state.start
                guard waiting > 0 else { return nil }
                let end = state.start + min(limit, waiting)
                let batch = Array(state.deliveries[state.start..<end])
                if end == state.deliveries.count {
                    state.deliveries.removeAll(keepingCapacity: true)
                    state.start = 0
                } else {
                    state.start = end
                }
                return .some(batch)
            }
            if let taken { return taken }
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.finished || state.deliveries.count > state.start { return true }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }
}

/// A consumer's deliveries one by one, in order (``AMQPConsumer/deliveries``). Ends when the
/// consumer has stopped or ``AMQPConsumer/finishDeliveries()`` was called.
public struct AMQPDeliveries: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    public typealias Failure = Never

    let batches: DeliveryBatches

    public func makeAsyncIterator() -> Iterator { Iterator(batches: batches) }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = AMQPDelivery
        public typealias Failure = Never

        let batches: DeliveryBatches
        var taken: [AMQPDelivery] = []
        var index = 0

        public mutating func next() async -> AMQPDelivery? {
            if index == taken.count {
                guard let batch = await batches.next(upTo: Int(UInt16.max)) else { return nil }
                taken = batch
                index = 0
            }
            defer { index += 1 }
            return taken[index]
        }
    }
}
