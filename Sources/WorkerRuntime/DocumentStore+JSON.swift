public import CovenantMessages
public import WorkerStores

extension DocumentStore {
    /// A document read as JSON with its version, or `nil` when there is none.
    public func jsonDocument(kind: String, key: String) async throws -> (JSONValue, Int64)? {
        guard let stored = try await document(kind: kind, key: key) else { return nil }
        guard let json = JSONValue.parse(stored.body) else { throw StoreError("\(kind) \(key) is unreadable") }
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

/// Documents one message changes several times (a batch of usage records of a few customers):
/// each is loaded once, changed in place, and written once with the version it was read at.
/// A document loaded but never ``set(_:_:)`` is not written.
public struct DocumentChanges<Value> {
    private var entries: [String: (value: Value, version: Int64)] = [:]
    private var changed: Set<String> = []

    public init() {}

    /// The document's current value here, loading it with `load` the first time.
    public mutating func value(_ key: String, load: () async throws -> (Value, Int64)) async throws -> Value {
        if let entry = entries[key] { return entry.value }
        let (value, version) = try await load()
        entries[key] = (value, version)
        return value
    }

    /// Keeps the changed value (after ``value(_:load:)`` loaded the document).
    public mutating func set(_ key: String, _ value: Value) {
        guard entries[key] != nil else { return }
        entries[key]?.value = value
        changed.insert(key)
    }

    /// A write per changed document, in key order.
    public func writes(_ write: (Value, Int64) -> DocumentWrite) -> [DocumentWrite] {
        changed.sorted().compactMap { key in entries[key].map { write($0.value, $0.version) } }
    }
}
