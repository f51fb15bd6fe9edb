public import BillingDomain

/// Which worker a store belongs to: each role has its own SQLite file or PostgreSQL schema.
public enum StoreRole: String, CaseIterable, Sendable {
    case provisioning
    case rating
    case invoicing
    case commitments
    case notification
}

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

/// A worker's state for one entity (a tenant, a contract, a customer's ledger) as JSON, with
/// a version for optimistic concurrency between replicas.
public struct StoredDocument: Sendable, Hashable {
    public let kind: String
    public let key: String
    public let body: [UInt8]
    /// 1 for the first write, then one more per write.
    public let version: Int64
}

/// Writes a document if it is still at `expectedVersion` (0: it must not exist yet).
public struct DocumentWrite: Sendable, Hashable {
    public var kind: String
    public var key: String
    public var body: [UInt8]
    public var expectedVersion: Int64

    public init(kind: String, key: String, body: [UInt8], expectedVersion: Int64) {
        self.kind = kind
        self.key = key
        self.body = body
        self.expectedVersion = expectedVersion
    }
}

/// A service's metric in a month: what rating keeps a total of. Two keys are equal when their
/// ids are the same bytes, as the databases compare them (``StoredText``).
public struct UsageMonthKey: Sendable, Hashable {
    public var tenantId: String
    public var serviceId: String
    public var metric: String
    /// The first day of the month.
    public var month: CalendarDate

    public init(tenantId: String, serviceId: String, metric: String, month: CalendarDate) {
        self.tenantId = tenantId
        self.serviceId = serviceId
        self.metric = metric
        self.month = month.startOfMonth
    }

    public static func == (lhs: UsageMonthKey, rhs: UsageMonthKey) -> Bool {
        lhs.month == rhs.month && StoredText.equal(lhs.tenantId, rhs.tenantId)
            && StoredText.equal(lhs.serviceId, rhs.serviceId) && StoredText.equal(lhs.metric, rhs.metric)
    }

    public func hash(into hasher: inout Hasher) {
        StoredText.hash(tenantId, into: &hasher)
        StoredText.hash(serviceId, into: &hasher)
        StoredText.hash(metric, into: &hasher)
        hasher.combine(month)
    }
}

/// Text compared as SQLite and PostgreSQL compare keys: byte for byte in UTF-8. Swift's `==`
/// also takes canonically equivalent strings as equal ("é" as one scalar, or as "e" and a
/// combining accent), which the databases keep as two keys: a dictionary keyed by `String`
/// would merge what the store holds apart.
enum StoredText {
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8)
    }

    static func hash(_ text: String, into hasher: inout Hasher) {
        hasher.combine(text.utf8.count)
        let hashed: Void? = text.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        if hashed == nil {
            for byte in text.utf8 { hasher.combine(byte) }
        }
    }
}

/// Usage to add to a service's total for a metric and month (rating).
public struct UsageIncrement: Sendable, Hashable {
    public var tenantId: String
    public var serviceId: String
    public var metric: String
    /// The first day of the month.
    public var month: CalendarDate
    public var quantity: Rational
    /// The most the total may reach with this quantity added; a commit that would pass it is
    /// refused as a conflict (``CommitOutcome/versionConflict(kind:key:)``, kind `usage_total`):
    /// the decision was made on a total that has grown since (another replica's commit), and
    /// is to be made again. `nil`: no limit.
    public var maximumTotal: Rational?

    public init(
        tenantId: String, serviceId: String, metric: String, month: CalendarDate, quantity: Rational,
        maximumTotal: Rational? = nil
    ) {
        self.tenantId = tenantId
        self.serviceId = serviceId
        self.metric = metric
        self.month = month.startOfMonth
        self.quantity = quantity
        self.maximumTotal = maximumTotal
    }

    public var key: UsageMonthKey {
        UsageMonthKey(tenantId: tenantId, serviceId: serviceId, metric: metric, month: month)
    }

    /// The conflict of a commit that would take the total to `total`, past its limit; nil if
    /// it stays within.
    func conflict(at total: Rational) -> CommitOutcome? {
        guard let maximumTotal, total > maximumTotal else { return nil }
        return pastLimit
    }

    /// The conflict of a commit that would take the total past its limit.
    var pastLimit: CommitOutcome {
        .versionConflict(kind: "usage_total", key: "\(tenantId)/\(serviceId)/\(metric)/\(month)")
    }
}

/// A final invoice (invoicing): its totals as exact decimals and the whole invoice as JSON.
public struct StoredInvoice: Sendable, Hashable {
    public var tenantId: String
    public var invoiceId: String
    public var customerId: String
    public var currency: String
    public var issueDate: CalendarDate
    public var subtotal: Rational
    public var discountTotal: Rational
    public var total: Rational
    public var body: [UInt8]

    public init(
        tenantId: String, invoiceId: String, customerId: String, currency: String, issueDate: CalendarDate,
        subtotal: Rational, discountTotal: Rational, total: Rational, body: [UInt8]
    ) {
        self.tenantId = tenantId
        self.invoiceId = invoiceId
        self.customerId = customerId
        self.currency = currency
        self.issueDate = issueDate
        self.subtotal = subtotal
        self.discountTotal = discountTotal
        self.total = total
        self.body = body
    }
}

/// One webhook delivery attempt (notification).
public struct DeliveryRecord: Sendable, Hashable {
    public var eventId: String
    public var target: String
    public var attempt: Int
    public var status: String
    public var responseCode: Int?
    /// Seconds since 1970.
    public var at: Int64

    public init(eventId: String, target: String, attempt: Int, status: String, responseCode: Int?, at: Int64) {
        self.eventId = eventId
        self.target = target
        self.attempt = attempt
        self.status = status
        self.responseCode = responseCode
        self.at = at
    }
}

/// A message to publish once the transaction that wrote it commits.
public struct OutboxMessage: Sendable, Hashable {
    public var exchange: String
    public var routingKey: String
    public var messageId: String
    public var type: String?
    public var contentType: String
    public var headers: [String: String]
    public var body: [UInt8]

    public init(
        exchange: String, routingKey: String, messageId: String, type: String? = nil,
        contentType: String = "application/cloudevents+json", headers: [String: String] = [:], body: [UInt8]
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.messageId = messageId
        self.type = type
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }
}

/// An outbox row a relay claimed: publish it, then mark it sent.
public struct OutboxRecord: Sendable, Hashable {
    public let id: Int64
    public let message: OutboxMessage
}

/// A fault of the database (not a rejection of the message): retry later.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "store: \(message)" }
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
