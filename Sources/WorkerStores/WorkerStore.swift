public import BillingDomain

/// What every worker's store has: an inbox and an outbox written with the worker's changes
/// in one transaction, and the relay's view of the outbox.
public protocol MessageStore: Sendable {
    var role: StoreRole { get }

    /// Brings the schema to the latest version; safe when replicas run it at the same time.
    func migrate() async throws
    /// Applies units of work in one transaction, each all-or-nothing on its own (a savepoint
    /// each): a repeated message or a conflict skips that unit only. One outcome per unit.
    func commit(batch units: [UnitOfWork]) async throws -> [CommitOutcome]
    /// Applies units of work in one transaction, all or none: the first unit that is a repeat
    /// or a conflict rolls the whole transaction back and is the outcome. For units decided
    /// one after another on each other's documents (a batch's second write of a ledger
    /// expects the version its first write makes).
    func commit(together units: [UnitOfWork]) async throws -> CommitOutcome
    /// Which of `messageIds` are in the inbox.
    func handledMessages(among messageIds: [String]) async throws -> Set<String>

    /// From now on, the outbox rows this store commits are written already claimed by
    /// `claimant` (this process's relay) for `lease`, and handed to its ``claimOutbox`` without
    /// being read back (``OutboxHandoff``).
    func handOffOutbox(to claimant: String, lease: Duration)
    /// Claims up to `limit` unsent outbox rows, oldest first, for `lease`: no other relay gets
    /// them until the lease runs out (a relay that dies has its rows published by another).
    /// Rows handed off to `claimant` come first, with what the table holds at least once a second.
    func claimOutbox(limit: Int, claimant: String, lease: Duration) async throws -> [OutboxRecord]
    /// Gives back the rows `claimant` claimed and has not published (a relay stopping, say
    /// rows it was handed and gave up): claimable at once instead of after their lease. Returns
    /// how many.
    func releaseOutboxClaims(of claimant: String) async throws -> Int
    /// Marks rows published (after the broker confirmed them): they are deleted, so the outbox
    /// holds only what is still to send (the broker has the rest; the inbox keeps the ids).
    func markSent(ids: [Int64]) async throws
    /// Rows not yet published.
    func outboxBacklog() async throws -> Int

    /// Runs what the store needs running (PostgreSQL's connection pool) until the caller is
    /// cancelled or ``close()`` is called; returns at once when there is nothing (SQLite). Run it
    /// as a child task for as long as the store is used: see ``withRunning(_:_:)``.
    func run() async
    func close() async throws
}

extension MessageStore {
    public func run() async {}
}

/// Runs `store` (``MessageStore/run()``) as a child task while `body` uses it, and closes it
/// after, whether `body` returns or throws.
public func withRunning<Store: MessageStore, Result: Sendable>(
    _ store: Store, _ body: (Store) async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await store.run() }
        let result: Result
        do {
            result = try await body(store)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        return result
    }
}

/// Entities kept as versioned JSON documents (tenants, plans, services, contracts, ledgers).
public protocol DocumentStore: MessageStore {
    /// The documents of a kind with any of `keys`, by key (a key with none is absent), read
    /// at once: what a batch of messages needs in one round trip.
    func documents(kind: String, keys: [String]) async throws -> [String: StoredDocument]
    /// Up to `limit` documents of a kind whose key starts with `keyPrefix`, in key order
    /// (bytewise), from the first key after `after` (`nil`: from the first): a page.
    func documents(kind: String, keyPrefix: String, after: String?, limit: Int) async throws -> [StoredDocument]
}

/// Provisioning: tenants, catalog, services and contracts, as documents.
public protocol ProvisioningStore: DocumentStore {}

/// Rating: rated usage per service, metric and month, summed exactly.
public protocol RatingStore: MessageStore {
    /// Services' totals of a metric for a month, read at once (a key with nothing recorded is
    /// absent).
    func usageTotals(of keys: [UsageMonthKey]) async throws -> [UsageMonthKey: Rational]
}

extension DocumentStore {
    public func document(kind: String, key: String) async throws -> StoredDocument? {
        try await documents(kind: kind, keys: [key])[key]
    }

    /// Hands `body` the documents of a kind whose key starts with `keyPrefix`, in key order, a
    /// page of `pageSize` at a time: what a reader that keeps little of each uses.
    public func forEachPage(
        kind: String, keyPrefix: String, pageSize: Int = 1000, _ body: ([StoredDocument]) throws -> Void
    ) async throws {
        var after: String?
        while true {
            let page = try await documents(kind: kind, keyPrefix: keyPrefix, after: after, limit: pageSize)
            try body(page)
            guard page.count == pageSize, let last = page.last else { return }
            after = last.key
        }
    }

    /// Every document of a kind whose key starts with `keyPrefix`, in key order, read a page
    /// at a time.
    public func documents(kind: String, keyPrefix: String) async throws -> [StoredDocument] {
        var documents: [StoredDocument] = []
        try await forEachPage(kind: kind, keyPrefix: keyPrefix) { documents += $0 }
        return documents
    }
}

extension RatingStore {
    /// A service's total of a metric for a month (zero when nothing was recorded).
    public func usageTotal(
        tenantId: String, serviceId: String, metric: String, month: CalendarDate
    ) async throws
        -> Rational
    {
        let key = UsageMonthKey(tenantId: tenantId, serviceId: serviceId, metric: metric, month: month)
        return try await usageTotals(of: [key])[key] ?? .zero
    }
}

/// Invoicing: customers' ledgers as documents, and final invoices with exact totals.
public protocol InvoicingStore: DocumentStore {
    func invoice(tenantId: String, invoiceId: String) async throws -> StoredInvoice?
}

/// Commitments: customers' commitment ledgers, as documents.
public protocol CommitmentsStore: DocumentStore {}

/// Notification: the delivery log of webhooks.
public protocol NotificationStore: DocumentStore {
    /// The attempts of an event's deliveries, in order.
    func deliveries(eventId: String) async throws -> [DeliveryRecord]
}

/// A backend that can serve any role (both backends do): what the conformance suite checks.
public typealias WorkerStore = ProvisioningStore & RatingStore & InvoicingStore & CommitmentsStore & NotificationStore

extension MessageStore {
    public func hasHandled(messageId: String) async throws -> Bool {
        try await handledMessages(among: [messageId]).contains(messageId)
    }

    /// Applies one unit of work atomically (see ``UnitOfWork``).
    public func commit(_ unit: UnitOfWork) async throws -> CommitOutcome {
        try await commit(together: [unit])
    }

    /// Commits a batch's units the way they were decided. Units that only add (usage, events)
    /// commit each on its own: a repeat or a conflict skips that unit only. Units that write
    /// documents were decided each on the writes of the ones before it, and a unit that speaks
    /// for the batch names what the others decided: they land all together or not at all, and
    /// when they do not, every unit's outcome is a conflict of the whole batch (nothing was
    /// written; each message is to be decided again, alone).
    public func commit(decided units: [UnitOfWork]) async throws -> [CommitOutcome] {
        if units.allSatisfy({ $0.documents.isEmpty && !$0.speaksForBatch }) {
            return try await commit(batch: units)
        }
        let landed = try await commit(together: units) == .committed
        return Array(repeating: landed ? .committed : .versionConflict(kind: "batch", key: "*"), count: units.count)
    }
}
