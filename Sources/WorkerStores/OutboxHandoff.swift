import Foundation
import Synchronization

/// Outbox rows handed from the commit that wrote them to the same process's relay.
///
/// Without it the relay reads back every row its own worker just committed: one more write
/// transaction per batch (the claim) and every body decoded again. With it a commit writes its
/// outbox rows already claimed by the relay (`claimed_by`, `claimed_until`, as a claim would), and
/// once the transaction has committed the store keeps those records for the relay's next claim.
/// A row is still published only after it was committed, and deleted only once confirmed; if the
/// process dies, its rows wait out the lease and any relay claims them, as rows of a relay that
/// died after a claim always have.
///
/// The relay still looks in the table at least once a second while it is busy with handed rows,
/// so rows that others left (a dead replica's, or rows committed while too many waited here) are
/// not held back by a steady stream of fresh ones. A handed row is given up (and left to that look)
/// when half its lease has passed, so a relay that stalled does not publish it after another took
/// it over; at most ``capacity`` rows, and ``byteCapacity`` bytes of bodies, wait here, after
/// which rows are written unclaimed (a relay that cannot publish then holds no more memory; a
/// `usage.rated` of 250 records is about 75 KB).
final class OutboxHandoff: Sendable {
    /// What a commit writes on its outbox rows.
    struct Claim {
        let claimant: String
        /// Seconds since 1970, as the SQLite store writes claims.
        let until: Double
        let lease: Duration
    }

    let capacity: Int
    let byteCapacity: Int
    static let tableLookInterval = Duration.seconds(1)
    /// The most bytes of bodies one claim takes from the hand-off, and one from the table (each
    /// at least one row, however large): with rows of up to 16 MiB, a claim of 500 could
    /// otherwise hold 8 GiB. A relay's batch holds at most twice this and two rows.
    static let claimByteLimit = 32 << 20

    init(capacity: Int = 10_000, byteCapacity: Int = 64 << 20) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
    }

    private struct Handed {
        let record: OutboxRecord
        let givenUpAt: ContinuousClock.Instant
    }

    private struct State {
        var claimant: String?
        var lease = Duration.seconds(30)
        var handed: [Handed] = []
        var head = 0
        /// The bodies of `handed[head...]`, in bytes.
        var waitingBytes = 0
        var lastTableLook = ContinuousClock.now
        var waiting: Int { handed.count - head }
    }

    private let state = Mutex(State())

    /// From now on, outbox rows committed through this store are claimed by `claimant` (this
    /// process's relay) for `lease`, and handed to its claims.
    func handOff(to claimant: String, lease: Duration) {
        state.withLock { state in
            state.claimant = claimant
            state.lease = lease
        }
    }

    /// The claim to write on the outbox rows of a commit starting now; nil when no relay takes
    /// hand-offs or enough rows wait already.
    func claimForCommit(now seconds: Double) -> Claim? {
        state.withLock { state in
            guard let claimant = state.claimant, state.waiting < capacity, state.waitingBytes < byteCapacity else {
                return nil
            }
            let lease = state.lease
            return Claim(claimant: claimant, until: seconds + lease.inSeconds, lease: lease)
        }
    }

    /// Records whose transaction committed, in the order their rows were written.
    func committed(_ records: [OutboxRecord], claimedAt: ContinuousClock.Instant, lease: Duration) {
        guard !records.isEmpty else { return }
        let givenUpAt = claimedAt + lease / 2
        state.withLock { state in
            state.handed.append(contentsOf: records.map { Handed(record: $0, givenUpAt: givenUpAt) })
            state.waitingBytes += records.reduce(0) { $0 + $1.message.body.count }
        }
    }

    /// A claim for `claimant`: up to `limit` handed records, oldest first, plus what
    /// `claimTable` claims from the table when nothing is handed or a look is due. If that look
    /// fails with records in hand, the records still go out (the look is tried again next time).
    func claim(
        limit: Int, claimant: String, claimTable: (Int) async throws -> [OutboxRecord]
    ) async throws -> [OutboxRecord] {
        let now = ContinuousClock.now
        let (handed, lookInTable) = state.withLock { state -> ([OutboxRecord], Bool) in
            guard state.claimant == claimant else { return ([], true) }
            // At most `limit` records and `claimByteLimit` bytes of bodies (and at least one).
            var end = state.head
            var bytes = 0
            while end < min(state.head + limit, state.handed.count), end == state.head || bytes < Self.claimByteLimit {
                bytes += state.handed[end].record.message.body.count
                end += 1
            }
            // Given-up records are skipped wherever they are (transactions hand over in the
            // order they commit, not the order they began).
            let taken = state.handed[state.head..<end].filter { $0.givenUpAt > now }.map(\.record)
            state.waitingBytes -= state.handed[state.head..<end].reduce(0) { $0 + $1.record.message.body.count }
            state.head = end
            if state.head == state.handed.count || state.head > 4096 {
                state.handed.removeFirst(state.head)
                state.head = 0
            }
            let due = now - state.lastTableLook >= Self.tableLookInterval
            if taken.isEmpty || due { state.lastTableLook = now }
            return (taken, taken.isEmpty || due)
        }
        guard lookInTable else { return handed }
        let claimed: [OutboxRecord]
        do {
            claimed = try await claimTable(limit)
        } catch  where !handed.isEmpty {
            state.withLock { $0.lastTableLook = now - Self.tableLookInterval }
            return handed
        }
        return handed.isEmpty ? claimed : (claimed + handed).sorted { $0.id < $1.id }
    }

    /// Forgets what waits for `claimant` (a relay stopping: its rows go back to the table).
    func release(_ claimant: String) {
        state.withLock { state in
            guard state.claimant == claimant else { return }
            state.handed = []
            state.head = 0
            state.waitingBytes = 0
        }
    }
}

/// The outbox rows one transaction writes, under the hand-off claim it took as it began.
struct OutboxWrites {
    private let handoff: OutboxHandoff
    let claim: OutboxHandoff.Claim?
    private let claimedAt = ContinuousClock.now
    var records: [OutboxRecord] = []

    init(_ handoff: OutboxHandoff) {
        self.handoff = handoff
        self.claim = handoff.claimForCommit(now: Date().timeIntervalSince1970)
    }

    mutating func wrote(_ record: OutboxRecord) {
        if claim != nil { records.append(record) }
    }

    /// After the transaction committed: the claimed rows go to the relay.
    func handOver() {
        guard let claim else { return }
        handoff.committed(records, claimedAt: claimedAt, lease: claim.lease)
    }
}

extension Duration {
    /// The duration in seconds, as the stores write leases (SQLite: seconds since 1970;
    /// PostgreSQL: an interval of seconds).
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
