public import BillingDomain
import Synchronization

/// A store whose every call ends within `limit`: one that has not answered by then throws
/// ``StoreTimeout`` (a fault: the worker retries it with back-off) and is cancelled.
///
/// Why: during a PostgreSQL restart a query can be lost with its connection and never answer;
/// seen once in `scripts/fault-test --postgres`, where the rating worker then waited forever
/// with a full prefetch window. A retry after a timeout is safe for the same reason a
/// redelivery is: a commit that did land has its message id in the inbox.
public final class BoundedStore: WorkerStore {
    private let store: any WorkerStore
    private let limit: Duration

    public init(_ store: any WorkerStore, limit: Duration = .seconds(30)) {
        self.store = store
        self.limit = limit
    }

    public var role: StoreRole { store.role }

    private func bounded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withinLimit(limit, operation)
    }

    public func migrate() async throws {
        // Migrations wait for other replicas' advisory locks: not bounded.
        try await store.migrate()
    }

    public func commit(batch units: [UnitOfWork]) async throws -> [CommitOutcome] {
        try await bounded { [store] in try await store.commit(batch: units) }
    }

    public func commit(together units: [UnitOfWork]) async throws -> CommitOutcome {
        try await bounded { [store] in try await store.commit(together: units) }
    }

    public func handledMessages(among messageIds: [String]) async throws -> Set<String> {
        try await bounded { [store] in try await store.handledMessages(among: messageIds) }
    }

    public func handOffOutbox(to claimant: String, lease: Duration) {
        store.handOffOutbox(to: claimant, lease: lease)
    }

    public func claimOutbox(limit: Int, claimant: String, lease: Duration) async throws -> [OutboxRecord] {
        try await bounded { [store] in try await store.claimOutbox(limit: limit, claimant: claimant, lease: lease) }
    }

    public func releaseOutboxClaims(of claimant: String) async throws -> Int {
        try await bounded { [store] in try await store.releaseOutboxClaims(of: claimant) }
    }

    public func markSent(ids: [Int64]) async throws {
        try await bounded { [store] in try await store.markSent(ids: ids) }
    }

    public func outboxBacklog() async throws -> Int {
        try await bounded { [store] in try await store.outboxBacklog() }
    }

    public func run() async {
        await store.run()
    }

    public func close() async throws {
        try await store.close()
    }

    public func documents(kind: String, keys: [String]) async throws -> [String: StoredDocument] {
        try await bounded { [store] in try await store.documents(kind: kind, keys: keys) }
    }

    public func documents(
        kind: String, keyPrefix: String, after: String?, limit: Int
    ) async throws -> [StoredDocument] {
        try await bounded { [store] in
            try await store.documents(kind: kind, keyPrefix: keyPrefix, after: after, limit: limit)
        }
    }

    public func usageTotals(of keys: [UsageMonthKey]) async throws -> [UsageMonthKey: Rational] {
        try await bounded { [store] in try await store.usageTotals(of: keys) }
    }

    public func invoice(tenantId: String, invoiceId: String) async throws -> StoredInvoice? {
        try await bounded { [store] in try await store.invoice(tenantId: tenantId, invoiceId: invoiceId) }
    }

    public func deliveries(eventId: String) async throws -> [DeliveryRecord] {
        try await bounded { [store] in try await store.deliveries(eventId: eventId) }
    }
}

/// A store call that did not answer in time.
public struct StoreTimeout: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "the database did not answer within \(limit)" }
}

/// `operation`'s result, or ``StoreTimeout`` once `limit` has passed (the operation is then
/// cancelled and left to end by itself: a lost query may never end, so nothing waits for it).
func withinLimit<T: Sendable>(
    _ limit: Duration, _ operation: @escaping @Sendable () async throws -> T
)
    async throws -> T
{
    let race = Race()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            let work = Task {
                do {
                    let value = try await operation()
                    if race.claim() { continuation.resume(returning: value) }
                } catch {
                    if race.claim() { continuation.resume(throwing: error) }
                }
                race.cancelTimer()
            }
            let timer = Task {
                guard (try? await Task.sleep(for: limit)) != nil, race.claim() else { return }
                work.cancel()
                continuation.resume(throwing: StoreTimeout(limit: limit))
            }
            race.started(work: work, timer: timer)
        }
    } onCancel: {
        race.cancelWork()
    }
}

/// The operation and its timer: whichever ends first claims the result.
private final class Race: Sendable {
    private struct State {
        var claimed = false
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())

    /// True for the first caller only.
    func claim() -> Bool {
        state.withLock { state in
            defer { state.claimed = true }
            return !state.claimed
        }
    }

    func started(work: Task<Void, Never>, timer: Task<Void, Never>) {
        let cancelled = state.withLock { state in
            state.work = work
            state.timer = timer
            return state.cancelled
        }
        if cancelled { work.cancel() }
    }

    func cancelTimer() { state.withLock { $0.timer }?.cancel() }

    /// The caller was cancelled: so is the operation (now, or once it has started).
    func cancelWork() {
        state.withLock { state in
            state.cancelled = true
            return state.work
        }?.cancel()
    }
}
