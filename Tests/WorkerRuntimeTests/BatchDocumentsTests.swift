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
}
