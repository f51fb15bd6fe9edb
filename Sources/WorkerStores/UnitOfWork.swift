import BillingDomain

/// Everything one handled message changes, written in one database transaction: the message
/// id into the inbox, the worker's data, and the messages to publish into the outbox. Either all
/// of it is stored or none of it.
public struct UnitOfWork: Sendable {
    /// The handled message's id. If the inbox already holds it, nothing is written
    /// (``CommitOutcome/alreadyHandled``). `nil` for work no message caused (a clock tick).
    public var messageId: String?
    public var documents: [DocumentWrite]
    public var usage: [UsageIncrement]
    public var invoices: [StoredInvoice]
    public var deliveries: [DeliveryRecord]
    public var outbox: [OutboxMessage]
    /// The unit speaks for the other units of its batch (its outbox holds one event naming
    /// what each of them decided, as `usage.rated` carries a batch's records): the batch is
    /// committed all together or not at all, never with some of its units skipped.
    public var speaksForBatch: Bool

    public init(
        messageId: String?, documents: [DocumentWrite] = [], usage: [UsageIncrement] = [],
        invoices: [StoredInvoice] = [], deliveries: [DeliveryRecord] = [], outbox: [OutboxMessage] = [],
        speaksForBatch: Bool = false
    ) {
        self.messageId = messageId
        self.documents = documents
        self.usage = usage
        self.invoices = invoices
        self.deliveries = deliveries
        self.outbox = outbox
        self.speaksForBatch = speaksForBatch
    }

    /// Whether a store can refuse the unit after writing part of it, so that within a batch it
    /// needs a savepoint of its own: a document's version check or a total's limit comes after
    /// a write (the inbox's). A repeat is refused by the first statement, before anything is
    /// written.
    var needsSavepoint: Bool { !documents.isEmpty || usage.contains { $0.maximumTotal != nil } }
}

public enum CommitOutcome: Sendable, Hashable {
    case committed
    /// The inbox already held the message id: a repeat delivery, nothing changed.
    case alreadyHandled
    /// A document changed since it was read (another replica won): nothing changed; read
    /// again and retry.
    case versionConflict(kind: String, key: String)
}

/// A document's writes within units written all at once, as one write: from the version the
/// first expects (0: the document must not exist yet) to the version the last leaves, with the
/// last one's body.
struct DocumentChain {
    /// A document's kind and key, equal when they are the same bytes (``StoredText``).
    struct Key: Hashable {
        let kind: String
        let key: String

        static func == (lhs: Key, rhs: Key) -> Bool {
            StoredText.equal(lhs.kind, rhs.kind) && StoredText.equal(lhs.key, rhs.key)
        }

        func hash(into hasher: inout Hasher) {
            StoredText.hash(kind, into: &hasher)
            StoredText.hash(key, into: &hasher)
        }
    }

    let kind: String
    let key: String
    let expectedVersion: Int64
    var version: Int64
    var body: [UInt8]
}

/// A total that units of additions add to: its key, what they add to it in all, and the first
/// increment that adds to it (whose limit holds for all of them).
struct UsageSum {
    let key: UsageMonthKey
    var sum: Rational
    let increment: UsageIncrement
}

extension Array where Element == UnitOfWork {
    /// Whether a store may commit the units together as additions, each total written once at
    /// its sum (``usageSums``): several units, none writing documents, their usage never
    /// negative and under one limit (or none), so that a total within its limit after all of
    /// them was within it after each.
    var areAdditions: Bool { count > 1 && bulkDocumentChains?.isEmpty == true }

    /// The units' documents as ``DocumentChain``s when a store may write the units all at
    /// once, a statement per table: usage that only adds (``usageOnlyAdds``), and each
    /// document's writes chained (``documentChains``); nil when they go unit by unit.
    var bulkDocumentChains: [DocumentChain]? { usageOnlyAdds ? documentChains : nil }

    /// Whether the units' usage is never negative and under one limit (or none): a total
    /// within its limit after all of them was then within it after each.
    var usageOnlyAdds: Bool {
        let usage = lazy.flatMap(\.usage)
        return usage.allSatisfy { !$0.quantity.isNegative }
            && Set(usage.map { $0.maximumTotal.flatMap(\.exactDecimalText) ?? "" }).count <= 1
    }

    /// Each document the units write, once, as one write standing for all of its writes
    /// (``DocumentChain``), in the order first written; nil when a write does not expect the
    /// version the write before it leaves (then one of them is refused, which only unit by
    /// unit can tell apart).
    var documentChains: [DocumentChain]? {
        var chains: [DocumentChain] = []
        var positions: [DocumentChain.Key: Int] = [:]
        for write in lazy.flatMap(\.documents) {
            let key = DocumentChain.Key(kind: write.kind, key: write.key)
            guard let position = positions[key] else {
                positions[key] = chains.count
                chains.append(
                    DocumentChain(
                        kind: write.kind, key: write.key, expectedVersion: write.expectedVersion,
                        version: write.expectedVersion + 1, body: write.body))
                continue
            }
            guard write.expectedVersion == chains[position].version else { return nil }
            chains[position].version += 1
            chains[position].body = write.body
        }
        return chains
    }

    /// Each total the units add to, once, with the sum they add, in the order they first add to it.
    var usageSums: [UsageSum] {
        var sums: [UsageSum] = []
        var positions: [UsageMonthKey: Int] = [:]
        for increment in lazy.flatMap(\.usage) {
            let key = increment.key
            if let position = positions[key] {
                sums[position].sum += increment.quantity
            } else {
                positions[key] = sums.count
                sums.append(UsageSum(key: key, sum: increment.quantity, increment: increment))
            }
        }
        return sums
    }
}

extension UnitOfWork {
    /// This unit with `other`'s writes after its own (its inbox id and batch role stay this
    /// unit's): one transaction for both.
    public func adding(_ other: UnitOfWork?) -> UnitOfWork {
        guard let other else { return self }
        var unit = self
        unit.documents += other.documents
        unit.usage += other.usage
        unit.invoices += other.invoices
        unit.deliveries += other.deliveries
        unit.outbox += other.outbox
        return unit
    }
}
