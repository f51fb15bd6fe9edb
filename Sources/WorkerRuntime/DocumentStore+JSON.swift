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
