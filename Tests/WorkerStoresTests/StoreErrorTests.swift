import BillingDomain
import Testing
import WorkerStores

@Suite("Store errors")
struct StoreErrorTests {
    @Test(
        "A value no store can hold is unrepresentable, no retry mends it, and it reads so on both backends however the database wraps it",
        arguments: Backend.allCases)
    func unrepresentable(_ backend: Backend) async throws {
        let (store, _) = try await backend.freshStore(.rating)
        let month = CalendarDate(year: 2025, month: 1, day: 1)!
        let third = UsageIncrement(
            tenantId: "acme", serviceId: "sim-1", metric: "gb", month: month, quantity: Rational(1) / Rational(3),
            maximumTotal: nil)
        do {
            _ = try await store.commit(UnitOfWork(messageId: "u-1", usage: [third]))
            Issue.record("a third was stored")
        } catch {
            let carried = try #require(StoreError.carried(by: error), "\(error)")
            #expect(carried.code == .unrepresentable && !carried.isRetryable)
        }
        // Nothing of it landed: the message is not in the inbox.
        #expect(try await !store.hasHandled(messageId: "u-1"))
        try await store.close()
    }
}
