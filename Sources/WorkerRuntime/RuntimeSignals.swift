import Foundation
import Synchronization

/// A flag set once, read from any task.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Wakes one waiting task, or the next one to wait if none is waiting.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when rung (or at once if rung since the last wait), or after `timeout`, or when
    /// the waiting task is cancelled. The timer is a child task that rings; cancelled because the
    /// wait is over, it must not ring (that would wake the next wait for nothing).
    func wait(upTo timeout: Duration) async {
        let over = StopFlag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let slept = (try? await Task.sleep(for: timeout)) != nil
                if slept || !over.isSet { self.ring() }
            }
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
            over.set()
            group.cancelAll()
        }
    }
}

extension String {
    /// The text with U+0000 replaced by U+FFFD: PostgreSQL's text cannot hold U+0000, and an
    /// outbox row that cannot be written would hold its message forever.
    var storableText: String {
        utf8.contains(0) ? String(unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : Character($0) }) : self
    }
}

extension Sequence<UInt8> {
    /// The bytes as lowercase hex digits, two per byte (digests in ids and events).
    public var hexDigits: String { map { String(format: "%02x", $0) }.joined() }
}
