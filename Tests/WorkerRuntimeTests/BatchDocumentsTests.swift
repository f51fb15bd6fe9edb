import BillingDomain
import CovenantMessages
import Foundation
import Testing
import WorkerRuntime
import WorkerStores

@Suite("Documents of a batch")
struct BatchDocumentsTests {
    @Test(
        "Documents by key prefix include those the batch wrote, matched by bytes as the stores match them: a key going on with a combining mark still starts with the prefix"
    )
    func prefixByBytes() async throws {
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-batch-\(UUID().uuidString)", role: .invoicing)
        try await store.migrate()
        let documents = BatchDocuments<JSONValue>("run-customer", in: store, decode: { $0 }, encode: { $0 })
        let combining = "run/\u{301}x"
        #expect(!combining.hasPrefix("run/"))
        _ = documents.writes([combining: .object([:]), "run/a": .object([:]), "runx": .object([:])])
        #expect(Set(try await documents.values(keyPrefix: "run/").keys) == [combining, "run/a"])
        try await store.close()
    }

    @Test(
        "A stored document its decoder refuses is corrupt_state, a fault of the store that no retry mends: never a rejection of the message that read it"
    )
    func corruptIsAFault() async throws {
        let store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-batch-\(UUID().uuidString)", role: .invoicing)
        try await store.migrate()
        _ = try await store.commit(
            UnitOfWork(
                messageId: nil,
                documents: [
                    DocumentWrite(
                        kind: "account", key: "acme/c-1", json: .object(["ledger": .null]), expectedVersion: 0),
                    DocumentWrite(kind: "account", key: "acme/c-2", body: Array("{not json".utf8), expectedVersion: 0),
                ]))
        let accounts = BatchDocuments<JSONValue>(
            "account", in: store,
            decode: { json in
                guard case .object(let ledger)? = json["ledger"], !ledger.isEmpty else {
                    throw Rejection(.invalidMessage, "account.ledger must be a JSON object")
                }
                return json
            }, encode: { $0 })
        for key in ["acme/c-1", "acme/c-2"] {
            do {
                _ = try await accounts.value(key)
                Issue.record("\(key) was read")
            } catch let error as StoreError {
                #expect(error.code == .corruptState && !error.isRetryable && error.message.contains(key))
                #expect(!FaultPolicy.isRetryable(error))
            }
        }
        #expect(try await accounts.value("acme/c-3") == nil)
        try await store.close()
    }
}
