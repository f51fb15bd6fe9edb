public import BillingDomain
public import CovenantMessages
public import WorkerStores

extension DocumentStore {
    /// A document read as JSON with its version, or `nil` when there is none.
    public func jsonDocument(kind: String, key: String) async throws -> (JSONValue, Int64)? {
        guard let stored = try await document(kind: kind, key: key) else { return nil }
        guard let json = JSONValue.parse(stored.body) else { throw StoreError.corrupt(kind, key) }
        return (json, stored.version)
    }

    /// A unit of work that writes `body` as the document, over whatever version is stored now.
    public func replacing(kind: String, key: String, with body: JSONValue) async throws -> UnitOfWork {
        let version = try await document(kind: kind, key: key)?.version ?? 0
        return UnitOfWork(
            messageId: nil, documents: [DocumentWrite(kind: kind, key: key, json: body, expectedVersion: version)])
    }
}

extension DocumentWrite {
    public init(kind: String, key: String, json: JSONValue, expectedVersion: Int64) {
        self.init(kind: kind, key: key, body: json.serialized(), expectedVersion: expectedVersion)
    }
}

/// Documents of one kind that a run of messages reads and changes (a batch of usage of a
/// few hundred customers): each read and decoded once, all of a batch's at once with
/// ``prefetch(_:)``; each message sees what the ones before it wrote, and each write is made
/// over the version the write before it makes. A message's changes count once ``writes(_:)``
/// took them, as its unit's last step: a message rejected halfway changes nothing here.
public final class BatchDocuments<Value> {
    private let store: any DocumentStore
    public let kind: String
    private let decode: (JSONValue) throws -> Value
    private let encode: (Value) -> JSONValue
    private var entries: [String: (value: Value?, version: Int64)] = [:]

    public init(
        _ kind: String, in store: any DocumentStore, decode: @escaping (JSONValue) throws -> Value,
        encode: @escaping (Value) -> JSONValue
    ) {
        self.kind = kind
        self.store = store
        self.decode = decode
        self.encode = encode
    }

    /// Reads the documents of `keys` not read yet, in one query.
    public func prefetch(_ keys: some Sequence<String>) async throws {
        let missing = Array(Set(keys.filter { entries[$0] == nil }))
        guard !missing.isEmpty else { return }
        let found = try await store.documents(kind: kind, keys: missing)
        for key in missing {
            entries[key] = try found[key].map { (try decoded($0), $0.version) } ?? (nil, 0)
        }
    }

    private func decoded(_ stored: StoredDocument) throws -> Value {
        guard let json = JSONValue.parse(stored.body) else { throw StoreError.corrupt(kind, stored.key) }
        return try StoreError.readingStored(kind, stored.key) { try decode(json) }
    }

    /// The document as the messages before this one left it; `nil` when there is none.
    public func value(_ key: String) async throws -> Value? {
        if let entry = entries[key] { return entry.value }
        try await prefetch([key])
        return entries[key]?.value
    }

    /// The document's version as the messages before this one left it (0: none yet). Call
    /// after ``value(_:)``.
    public func version(_ key: String) -> Int64 {
        entries[key]?.version ?? 0
    }

    /// Every document whose key starts with `keyPrefix`, by key, as the messages before this
    /// one left them: the stored ones, with what this batch wrote over them.
    public func values(keyPrefix: String) async throws -> [String: Value] {
        var values: [String: Value] = [:]
        for stored in try await store.documents(kind: kind, keyPrefix: keyPrefix) where entries[stored.key] == nil {
            values[stored.key] = try decoded(stored)
        }
        // By bytes, as the stores match a prefix: `hasPrefix` compares whole characters, and a
        // key going on with a combining mark ("run/" then U+0301) would not start with "run/".
        for (key, entry) in entries where key.utf8.starts(with: keyPrefix.utf8) {
            if let value = entry.value { values[key] = value }
        }
        return values
    }

    /// A message's changed documents as writes, in key order, each over the version the
    /// previous write made; the changed values are what the next messages see.
    public func writes(_ changed: [String: Value]) -> [DocumentWrite] {
        changed.keys.sorted().map { key in
            let value = changed[key]!
            let version = entries[key]?.version ?? 0
            entries[key] = (value, version + 1)
            return DocumentWrite(kind: kind, key: key, json: encode(value), expectedVersion: version)
        }
    }
}

extension BatchDocuments where Value == JSONValue {
    /// Documents kept as the JSON they are.
    public convenience init(_ kind: String, in store: any DocumentStore) {
        self.init(kind, in: store, decode: { $0 }, encode: { $0 })
    }
}

extension BatchDocuments where Value == Plan {
    /// Tenants' plans, keyed `tenant/plan`, read only: they are written as the data of the
    /// message that carried them.
    public static func plans(in store: any DocumentStore) -> BatchDocuments<Plan> {
        BatchDocuments(
            "plan", in: store, decode: { try Command.plan(from: $0).get() },
            encode: { _ in preconditionFailure("plans are written as their messages' data") })
    }
}

extension CloudEvent {
    /// The customers an event's data names: its `customer_id` and its `records`' (rated usage),
    /// what a batch reads its customers' documents by.
    public var customerIds: [String] {
        var ids: [String] = []
        if case .string(let customer)? = data["customer_id"] { ids.append(customer) }
        if case .array(let records)? = data["records"] {
            for case .string(let customer)? in records.map({ $0["customer_id"] }) { ids.append(customer) }
        }
        return ids
    }

    /// How many records the event's data carries (`usage.rated` may carry a batch's); 0 for
    /// an event without `records`.
    public var recordCount: Int {
        if case .array(let records)? = data["records"] { records.count } else { 0 }
    }
}

extension Optional {
    /// The value, or else what `fallback` finds (`??` for an async fallback).
    public func asyncOr(_ fallback: () async throws -> Wrapped) async rethrows -> Wrapped {
        if let value = self { return value }
        return try await fallback()
    }
}
