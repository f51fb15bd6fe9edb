public import BillingDomain
public import CovenantMessages
public import WorkerStores

/// What one worker does with an accepted message: decide, in the pure domain, what changes.
public protocol MessageHandler: Sendable {
    /// The effects of `event`: a unit of work to commit with its outbox (the runtime adds the
    /// inbox id), or a rejection. Throwing is for faults (the database is down): the runtime
    /// retries with back-off and never dead-letters the message for it.
    func handle(_ event: CloudEvent) async throws -> HandlerOutcome

    /// Message types the runtime may hand over several at a time, to ``handle(batch:)``: a run
    /// of consecutive deliveries of these types is decided together and committed in one
    /// transaction (a savepoint per message). Empty by default: one message at a time.
    var batchableTypes: Set<String> { get }

    /// The outcomes of consecutive messages, all of ``batchableTypes``, in order, with one
    /// outcome per event. The units are committed together after this returns, so each
    /// decision must count the effects of the earlier ones in the batch as made (a running
    /// total, say) where reading the store would miss them, and a document written twice is
    /// written the second time over the version the first write makes (see
    /// ``BatchDocuments``). Units that only add usage and events commit each on its own; when
    /// any unit writes a document, the batch lands all together or not at all.
    func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome]

    /// Whether the runtime may decide a run of batchable messages while the run before it
    /// commits (commits and acknowledgements still follow the deliveries' order, and anything
    /// not batchable waits for the commit before it). Deciding on the store as it was one run
    /// ago must then decide the same as deciding after it: true only for a handler whose
    /// batches write no documents and whose every reading of what a batch changes is checked
    /// again in the commit (rating: a total is added to and held to its limit in the write).
    /// It is what another replica deciding at the same time sees anyway. False by default.
    var decidesAheadOfCommit: Bool { get }
}

extension MessageHandler {
    public var batchableTypes: Set<String> { [] }
    public var decidesAheadOfCommit: Bool { false }

    /// One by one, each on the store as it is: right only for messages that do not depend on
    /// each other's effects.
    public func handle(batch events: [CloudEvent]) async throws -> [HandlerOutcome] {
        try await events.asyncMap(handle)
    }
}

extension Array {
    /// `map` with an async transform, in order, one element at a time.
    public func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        results.reserveCapacity(count)
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

public enum HandlerOutcome: Sendable {
    case commit(UnitOfWork)
    case reject(Rejection)
    /// The message is valid but cannot be handled yet: it arrived before what it depends on
    /// (the event of an earlier change of the same service, say), or a webhook receiver did
    /// not answer. It waits in a retry queue of the role for about `after` and comes back,
    /// while the messages behind it go on. What `recording` writes (a failed webhook attempt in
    /// the delivery log) commits with the copy that waits, in one transaction: a handler never
    /// commits on its own.
    case retryLater(String, after: Duration = .milliseconds(500), recording: UnitOfWork? = nil)
    /// The message names something this worker does not know, which may still be on its way
    /// (usage for a service whose activation another replica has not committed yet): it waits
    /// as with `retryLater`, at most `attempts` times, and is then rejected with `rejection`.
    case rejectUnlessItArrives(Rejection, attempts: Int = 4, after: Duration = .milliseconds(500))
}

extension HandlerOutcome {
    /// What a ``retryLater(_:after:recording:)`` records; nil for every other outcome.
    var recording: UnitOfWork? {
        if case .retryLater(_, _, let recording) = self { recording } else { nil }
    }
}
