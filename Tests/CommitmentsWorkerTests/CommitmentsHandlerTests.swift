import BillingDomain
import CommitmentsWorker
import CovenantMessages
import Foundation
import Testing
import WorkerRuntime
import WorkerStores

/// The commitments worker's handler on a real SQLite store: usage counted by day from
/// `usage.rated`, the windows a run's draft closes evaluated once, and its stored ledgers read
/// as the store's state, never as the message's.
@Suite("Commitments handler")
struct CommitmentsHandlerTests {
    let store: SQLiteWorkerStore
    let handler: CommitmentsHandler

    init() async throws {
        store = try SQLiteWorkerStore(
            directory: NSTemporaryDirectory() + "covenant-commitments-\(UUID().uuidString)", role: .commitments)
        try await store.migrate()
        handler = CommitmentsHandler(
            store: store, events: EventFactory(source: "covenant/commitments"), now: { "2025-02-01T00:00:00Z" })
    }

    static func day(_ month: Int, _ day: Int) -> CalendarDate { CalendarDate(year: 2025, month: month, day: day)! }

    /// `c-1`'s 12-month contract for `sim-1` from 2025-01-01, committing to 100 gb a month.
    static func contract() throws -> Contract {
        let gbp = Currency(code: "GBP")!
        let plan = try Plan.validated(
            id: "sim", name: "SIM", currency: gbp, monthlyFee: Money(decimal: "10.00", currency: gbp)!,
            serviceType: "sim"
        ).get()
        let tenant = Tenant(
            id: "acme", name: "Acme", platformLicense: PlatformLicense(kind: .virtual, status: .active),
            serviceContractsEnabled: true)
        let gigabytes = try Commitment.validated(
            id: "gb", measure: .usage(metric: "gb"), frequencyMonths: 1,
            ramp: [.init(fromWindow: 1, amount: Rational(100))], penalty: .count(unitPrice: Rational(decimal: "0.5")!)
        ).get()
        return try Contract.sign(
            id: "sim-1-1", customerId: "c-1", serviceId: "sim-1", plan: plan, tenant: tenant, paymentMode: .manual,
            start: day(1, 1), terms: ContractTerms(termMonths: 12, commitments: [gigabytes])
        ).get()
    }

    func event(_ type: String, _ data: JSONValue) -> CloudEvent {
        CloudEvent(
            id: "m-\(UUID().uuidString)", source: "tests", type: type, time: "2025-02-01T00:00:00Z", tenantId: "acme",
            data: data)
    }

    static func usage(_ id: String, _ quantity: String, on date: CalendarDate) -> UsageRated.Record {
        UsageRated.Record(
            usageId: id, customerId: "c-1", serviceId: "sim-1", planId: "sim", billingModel: .fixedTerm, metric: "gb",
            quantity: Rational(decimal: quantity)!, date: date, late: false)
    }

    /// The unit of `event`, committed as the runtime commits it.
    func commit(_ event: CloudEvent) async throws -> UnitOfWork {
        guard case .commit(var unit) = try await handler.handle(event) else {
            Issue.record("\(event.type) was not committed")
            return UnitOfWork(messageId: nil)
        }
        unit.messageId = event.id
        #expect(try await store.commit(unit) == .committed)
        return unit
    }

    func draft(_ run: String, cutoff: CalendarDate) throws -> CloudEvent {
        let contract = try Self.contract()
        let span = CommitmentLedger.ServiceSpan(
            planId: "sim", serviceType: "sim", period: BillingPeriod(start: Self.day(1, 1), end: Self.day(12, 31)))
        return event(
            InvoiceDrafted.type,
            InvoiceDrafted(
                runId: run, asOf: cutoff, customerId: "c-1", cutoff: cutoff, contracts: [contract],
                services: ["sim-1": [span]], lines: []
            ).data)
    }

    @Test(
        "Usage is counted by day; a run's draft evaluates the windows it closes, once, and the shortfall travels exact")
    func evaluatedOnce() async throws {
        let rated = UsageRated(records: [
            Self.usage("u-1", "30", on: Self.day(1, 10)), Self.usage("u-2", "12.5", on: Self.day(1, 20)),
            Self.usage("u-3", "99", on: Self.day(2, 3)),
        ])
        _ = try await commit(event(UsageRated.type, rated.data))
        let first = try await commit(try draft("run-1", cutoff: Self.day(2, 1)))
        let evaluated = try first.outbox.map { message -> CommitmentsEvaluated in
            let event = try CloudEvent.decode(message.body).get()
            #expect(event.type == CommitmentsEvaluated.type && event.causationId == "run-1")
            return try CommitmentsEvaluated(decoding: event)
        }
        // January's window alone closes by February 1st: 42.5 of 100 gb; February's 99 wait.
        #expect(
            evaluated == [
                CommitmentsEvaluated(
                    runId: "run-1", customerId: "c-1",
                    windows: [
                        .init(
                            contractId: "sim-1-1", commitmentId: "gb", window: 1, committed: Rational(100),
                            actual: Rational(decimal: "42.5")!)
                    ])
            ])
        // The same cutoff again (another run, or a replay under another id) evaluates nothing twice.
        let again = try await commit(try draft("run-2", cutoff: Self.day(2, 1)))
        let windows = try again.outbox.map { try CommitmentsEvaluated(decoding: CloudEvent.decode($0.body).get()) }
        #expect(windows.map(\.windows) == [[]])
    }

    @Test(
        "A malformed usage.rated is the message's fault (invalid_message); a ledger that cannot be read is the store's")
    func faultsAndRejections() async throws {
        guard case .reject(let rejection) = try await handler.handle(event(UsageRated.type, .object([:]))) else {
            Issue.record("a usage.rated without records was not rejected")
            return
        }
        #expect(rejection.code == .invalidMessage)
        _ = try await store.commit(
            UnitOfWork(
                messageId: nil,
                documents: [
                    DocumentWrite(
                        kind: "ledger", key: "acme/c-1", json: .object(["customer_id": .number("5")]),
                        expectedVersion: 0)
                ]))
        let usage = event(UsageRated.type, UsageRated(records: [Self.usage("u-9", "1", on: Self.day(1, 5))]).data)
        await #expect {
            _ = try await handler.handle(usage)
        } throws: { error in
            (error as? StoreError)?.code == .corruptState && !FaultPolicy.isRetryable(error)
        }
    }
}
