/// A fault of a worker's store or of its stored state, never a rejection of the message being
/// handled, with a code that says what it is and whether trying again can mend it (as swift-nio's
/// `FileSystemError` does). Errors of the databases' own clients (a connection lost, a timeout)
/// are faults of another kind, and all retryable.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        /// Whether the same work can succeed later without anybody mending anything.
        public let isRetryable: Bool

        /// A stored document or row that cannot be read as what it must be: the worker's own
        /// state, written by a bug or changed beneath it. Reading it again reads the same: the
        /// message that met it is set aside at once (`internal_error`), counted in
        /// `covenant_corrupt_state_total` and logged with the document's kind and key.
        public static let corruptState = Code(name: "corrupt_state", isRetryable: false)
        /// A value the store cannot hold as it is (a figure with no exact decimal form).
        public static let unrepresentable = Code(name: "unrepresentable", isRetryable: false)
        /// The worker or its store broke their own contract (a handler's outcomes that do not
        /// match its messages, an outbox that took fewer rows than given).
        public static let inconsistent = Code(name: "inconsistent", isRetryable: false)
        /// The store's settings cannot work (a database URL, a certificate): found at start.
        public static let configuration = Code(name: "configuration", isRetryable: false)

        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var isRetryable: Bool { code.isRetryable }

    public var description: String { "store: \(code): \(message)" }

    /// A document of `kind` and `key` that cannot be read: `corrupt_state`.
    public static func corrupt(_ kind: String, _ key: String, _ reason: String = "unreadable") -> StoreError {
        StoreError(.corruptState, "\(kind) \(key): \(reason)")
    }

    /// Stored state read with `decode`. Whatever it throws (a rejection, for decoders shared with
    /// messages) is the document's fault: `corrupt_state`, never a rejection of the message
    /// whose handling read it.
    public static func readingStored<Value>(
        _ kind: String, _ key: String, _ decode: () throws -> Value
    ) throws(StoreError) -> Value {
        do {
            return try decode()
        } catch let error as StoreError {
            throw error
        } catch {
            throw corrupt(kind, key, "\(error)")
        }
    }
}
