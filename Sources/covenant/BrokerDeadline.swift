import AMQPClient
import Foundation
import Synchronization

/// The CLI's promise to an operator: a command that talks to the broker ends within its time
/// limit, with one line naming what it could not reach. The AMQP client reconnects for ever
/// (right for a worker, wrong for a command someone waits on), so each command races its work
/// against the limit and reports the client's last connection error when the limit wins.
final class BrokerDeadline: Sendable {
    let limit: Duration
    let broker: String
    private let lastError = Mutex<AMQPError?>(nil)
    private let connections = Mutex(0)

    init(seconds: Int, broker: String) {
        self.limit = .seconds(max(1, seconds))
        self.broker = broker
    }

    /// Give this to a publisher or consumer: it remembers the last connection failure.
    var observer: @Sendable (AMQPConnectionEvent) -> Void {
        { [self] event in
            switch event {
            case .connected: connections.withLock { $0 += 1 }
            case .disconnected(let error): lastError.withLock { $0 = error }
            }
        }
    }

    var hasConnected: Bool { connections.withLock { $0 > 0 } }

    /// The error an operator reads when `what` did not finish in time.
    func expired(_ what: String) -> CommandFailure {
        let cause = lastError.withLock { $0 }.map { ": \($0)" } ?? ""
        return CommandFailure(
            message: "\(what) did not finish within \(limit.components.seconds) s at \(broker)\(cause)")
    }

    /// Runs `body`, or throws ``CommandFailure`` once the limit passes. The work may be stuck in
    /// the client's reconnection loop or in a blocking call, which cannot be cancelled: it is left
    /// behind, and the command's error ends the process.
    func run<T: Sendable>(_ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let limit = self.limit
        let result = FirstResult<T>()
        return try await withCheckedThrowingContinuation { continuation in
            result.waiter(continuation)
            let work = Task {
                do { result.finish(.success(try await body())) } catch { result.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                result.finish(.failure(self.expired(what)))
                work.cancel()
            }
            result.onFinish { timer.cancel() }
        }
    }

    /// Runs a blocking call (a short-lived connection of rabbitmq-c) on a thread of its own, under
    /// the same limit.
    func blocking<T: Sendable>(_ what: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(what) {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread { continuation.resume(with: Result { try body() }) }
                thread.start()
            }
        }
    }

    /// Waits until a consumer or publisher given ``observer`` has connected once.
    func connected(_ what: String) async throws {
        try await run(what) {
            while !self.hasConnected {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}

/// Why a command failed, in the one line an operator reads (then the exit code is 1).
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Whichever of the work and the timer finishes first resumes the caller; the other is ignored.
private final class FirstResult<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var finished = false
        var onFinish: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    func waiter(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func onFinish(_ action: @escaping @Sendable () -> Void) {
        let run = state.withLock { state -> Bool in
            if state.finished { return true }
            state.onFinish = action
            return false
        }
        if run { action() }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, action) = state.withLock {
            state -> (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard !state.finished else { return (nil, nil) }
            state.finished = true
            defer { state.continuation = nil }
            return (state.continuation, state.onFinish)
        }
        continuation?.resume(with: result)
        action?()
    }
}

/// Whether a long-running command's connection is up, and since when it is not.
final class ConnectionState: Sendable {
    private let lostAt = Mutex<ContinuousClock.Instant?>(nil)

    func record(_ event: AMQPConnectionEvent) {
        switch event {
        case .connected: lostAt.withLock { $0 = nil }
        case .disconnected: lostAt.withLock { $0 = $0 ?? .now }
        }
    }

    var disconnectedSince: ContinuousClock.Instant? { lostAt.withLock { $0 } }
}
