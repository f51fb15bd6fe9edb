import Synchronization

/// A one-time signal: tasks that ``wait()`` before it is given wait for it; after, they pass.
final class StartSignal: Sendable {
    private struct State {
        var given = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func signal() {
        let waiters = state.withLock { state in
            state.given = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var isGiven: Bool { state.withLock { $0.given } }

    func wait() async {
        if state.withLock({ $0.given }) { return }
        await withCheckedContinuation { continuation in
            let given = state.withLock { state in
                if !state.given { state.waiters.append(continuation) }
                return state.given
            }
            if given { continuation.resume() }
        }
    }
}
