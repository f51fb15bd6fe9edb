public import WorkerStores

/// How decided messages settle, and when to try again.
extension DeliveryPlan {
    /// What the handler decided for one message of a run, as far as settling it goes.
    public enum Decided: Sendable, Hashable {
        /// A unit of work to commit.
        case commit
        /// A rejection: `command.rejected` and a dead letter, committed.
        case reject
        /// A copy parked in a retry queue, committed.
        case wait
        /// To wait with no retry queue to wait in: back to the queue, after committing what it
        /// records (``HandlerOutcome/retryLater(_:after:recording:)``), if anything.
        case requeue(recording: Bool)

        /// Whether a unit of work is committed for it.
        var commits: Bool {
            if case .requeue(let recording) = self { recording } else { true }
        }
    }

    /// What becomes of one message of a committed run.
    public enum Settlement: Sendable, Hashable {
        /// Acknowledged: its unit landed (or the inbox already held it).
        case handled(Int)
        /// Acknowledged: its rejection landed.
        case rejected(Int)
        /// Acknowledged: its copy waits in a retry queue.
        case deferred(Int)
        /// Back to the queue unacknowledged.
        case requeue(Int)
        /// Handled alone, again from the inbox check: its unit met a version conflict, or the
        /// run's commit failed.
        case alone(Int)
    }

    /// The settlements of a run's messages, in order: `decided` for each, and `results` for
    /// the units committed (one per message that ``Decided/commits``, in order), nil when the
    /// commit failed. Results that do not line up with the units settle nothing: every message
    /// goes alone.
    public static func settlements(_ decided: [Decided], results: [CommitOutcome]?) -> [Settlement] {
        guard let results, results.count == decided.count(where: \.commits) else {
            return decided.indices.map(Settlement.alone)
        }
        var next = results.makeIterator()
        return decided.enumerated().map { index, decision in
            guard decision.commits, let result = next.next() else { return .requeue(index) }
            if case .versionConflict = result { return .alone(index) }
            switch decision {
            case .commit: return .handled(index)
            case .reject: return .rejected(index)
            case .wait: return .deferred(index)
            case .requeue: return .requeue(index)
            }
        }
    }

    /// What follows the commit of a message handled alone.
    public enum AfterCommit: Sendable, Hashable {
        /// Landed (or was already handled): acknowledge.
        case acknowledge
        /// Another replica changed what it read: decide again on fresh state.
        case decideAgain
        /// Conflicts persist after `conflictRetries` tries: back to the queue.
        case requeue
    }

    public static func afterCommit(_ result: CommitOutcome, attempt: Int, conflictRetries: Int) -> AfterCommit {
        guard case .versionConflict = result else { return .acknowledge }
        return attempt < conflictRetries ? .decideAgain : .requeue
    }

    /// The wait before try `attempt + 1` of a fault retried in place: 100 ms doubling, at most
    /// `maximum`.
    public static func backoff(attempt: Int, maximum: Duration) -> Duration {
        min(.milliseconds(50) * (1 << min(max(attempt, 0), 16)), maximum)
    }

    /// A bounded wait (``HandlerOutcome/rejectUnlessItArrives(_:attempts:after:)``) counted
    /// against the message's waits so far: one more wait while it has some left and the role has
    /// a retry queue to wait in, else its rejection. Other outcomes stand.
    public static func bounded(_ outcome: HandlerOutcome, waitsSoFar: Int, canWait: Bool) -> HandlerOutcome {
        guard case .rejectUnlessItArrives(let rejection, let attempts, let delay) = outcome else { return outcome }
        guard waitsSoFar < attempts, canWait else { return .reject(rejection) }
        return .retryLater("\(rejection.message) (yet)", after: delay)
    }
}
