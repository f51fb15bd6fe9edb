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
