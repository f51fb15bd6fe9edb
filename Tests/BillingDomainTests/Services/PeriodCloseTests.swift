import BillingDomain
import Testing

/// What a billing run does to a service's record (``ServiceRecord/closingPeriod(asOf:tenant:plan:)``),
/// without a store: renewals as many as the date calls for, expiry, the closed days, the cap.
@Suite("Closing a service's period")
struct PeriodCloseTests {
    static func record(renewal: RenewalPolicy, termMonths: Int = 1, start: String = "2025-01-01") -> ServiceRecord {
        let contract = workedExampleContract(
            id: "vm-1-1", start: start, terms: ContractTerms(termMonths: termMonths, renewal: renewal))
        return ServiceRecord(
            customerId: "cust-1", serviceId: "vm-1", planId: plan().id, billingModel: .fixedTerm,
            paymentMode: .postpaid, startDate: date(start), contracts: [contract])
    }

    @Test(
        "auto_renew renews every term that ended before the run's date, in order, and closes the days before its month")
    func renewsAsOftenAsTheDateCallsFor() throws {
        let (record, changes) = try Self.record(renewal: .autoRenew).closingPeriod(
            asOf: date("2025-04-10"), tenant: tenant(), plan: plan()
        ).get()
        // January's term ends 2025-02-01; February's, March's and April's follow it.
        #expect(changes.count == 3)
        #expect(record.contracts.map(\.id) == ["vm-1-1", "vm-1-2", "vm-1-3", "vm-1-4"])
        for (change, (old, new)) in zip(changes, zip(record.contracts, record.contracts.dropFirst())) {
            #expect(change == .renewed(old: old, new: new))
            #expect(new.start == old.termEnd)
        }
        #expect(try #require(record.currentContract).termEnd >= date("2025-04-10"))
        #expect(record.endDate == nil && record.closedThrough == date("2025-04-01"))
    }

    @Test("expire ends the service at its term end; a record with nothing due changes only its closed days")
    func expiresOrStays() throws {
        let (ended, changes) = try Self.record(renewal: .expire).closingPeriod(
            asOf: date("2025-03-01"), tenant: tenant(), plan: nil
        ).get()
        #expect(changes == [.expired(Self.record(renewal: .expire).contracts[0])])
        #expect(ended.endDate == date("2025-02-01") && ended.closedThrough == nil)
        #expect(!Self.record(renewal: .expire).renews(asOf: date("2025-03-01")))
        #expect(Self.record(renewal: .autoRenew).renews(asOf: date("2025-03-01")))
        // Within its term: no plan is needed, nothing renews; the run's cutoff is recorded.
        let running = Self.record(renewal: .autoRenew, termMonths: 12)
        #expect(!running.renews(asOf: date("2025-06-01")))
        let (closed, none) = try running.closingPeriod(asOf: date("2025-06-01"), tenant: tenant(), plan: nil).get()
        #expect(none.isEmpty && closed.contracts == running.contracts && closed.closedThrough == date("2025-06-01"))
        // A later cutoff never moves back.
        let (again, _) = try closed.closingPeriod(asOf: date("2025-05-01"), tenant: tenant(), plan: nil).get()
        #expect(again.closedThrough == date("2025-06-01"))
    }

    @Test("A renewal needs the service's plan, and one run renews a service at most 240 times")
    func rejections() {
        let record = Self.record(renewal: .autoRenew)
        #expect(
            record.closingPeriod(asOf: date("2025-03-01"), tenant: tenant(), plan: nil).failure?.code == .unknownPlan)
        #expect(
            record.closingPeriod(asOf: date("2025-03-01"), tenant: tenant(), plan: plan("other")).failure?.code
                == .unknownPlan)
        // One-month terms over 21 years: 252 renewals due.
        let old = Self.record(renewal: .autoRenew, start: "2004-01-01")
        #expect(
            old.closingPeriod(asOf: date("2025-01-15"), tenant: tenant(), plan: plan()).failure?.code == .dateOutOfRange
        )
        let (capped, changes) = try! old.closingPeriod(asOf: date("2023-12-15"), tenant: tenant(), plan: plan()).get()
        #expect(changes.count == 239 && capped.contracts.count == 240)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
