import Testing

@testable import WorkerStores

@Suite("Store calls bounded in time")
struct BoundedStoreTests {
    @Test("A call that never answers fails with StoreTimeout; an answer or an error in time passes through")
    func limit() async throws {
        await #expect(throws: StoreTimeout.self) {
            try await withinLimit(.milliseconds(200)) {
                // A query lost with its connection: nothing ever resumes it.
                try await Task.sleep(for: .seconds(3600))
            }
        }
        #expect(try await withinLimit(.seconds(5)) { 42 } == 42)
        await #expect(throws: StoreError.self) {
            try await withinLimit(.seconds(5)) { () async throws -> Int in throw StoreError(.inconsistent, "refused") }
        }
    }
}
