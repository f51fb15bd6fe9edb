import BillingDomain
import CovenantMessages
import Testing

/// Messages between workers: what the producer encodes, the consumer decodes to the same value
/// (through the bytes that travel), and a field missing is a rejection naming it.
@Suite("Messages between workers")
struct WorkerMessageTests {
    static let day = CalendarDate(year: 2026, month: 3, day: 1)!

    static func contract() throws -> Contract {
        let gbp = Currency(code: "GBP")!
        let plan = try Plan.validated(
            id: "vm", name: "VM", currency: gbp, monthlyFee: Money(decimal: "99.90", currency: gbp)!, serviceType: "vm"
        ).get()
        let tenant = Tenant(
            id: "acme", name: "Acme", platformLicense: PlatformLicense(kind: .virtual, status: .active),
            serviceContractsEnabled: true)
        return try Contract.sign(
            id: "vm-1-1", customerId: "c-1", serviceId: "vm-1", plan: plan, tenant: tenant, paymentMode: .manual,
            start: CalendarDate(year: 2025, month: 11, day: 17)!, terms: ContractTerms(termMonths: 12)
        ).get()
    }

    /// The message as its consumer reads it from the bytes its producer sent.
    static func travelled<Message: WorkerMessage>(_ message: Message) throws -> Message {
        let event = CloudEvent(
            id: "m-1", source: "covenant/test", type: Message.type, time: "2026-03-01T00:00:00Z", tenantId: "acme",
            causationId: nil, data: JSONValue.parse(message.data.serialized())!)
        return try Message(decoding: event)
    }

    @Test(
        "usage.rated, billing.run.part, billing.period_closed, invoice.drafted and commitments.evaluated travel unchanged"
    )
    func roundTrips() throws {
        let usage = UsageRated(records: [
            .init(
                usageId: "u-1", customerId: "c-1", serviceId: "sim-1", planId: "sim", billingModel: .payg,
                metric: "gb", quantity: Rational(decimal: "1.250001")!, date: Self.day, late: true),
            .init(
                usageId: "u-2", customerId: "c-2", serviceId: "vm-1", planId: nil, billingModel: nil, metric: "cpu",
                quantity: Rational(0), date: Self.day.adding(days: 30), late: false),
        ])
        #expect(try Self.travelled(usage) == usage)
        let part = BillingRunPart(
            runId: "run-1", asOf: Self.day, customers: 2,
            part: [.init(customerId: "c-1", serviceIds: ["vm-1", "sim-1"]), .init(customerId: "c-2", serviceIds: [])])
        #expect(try Self.travelled(part) == part)
        let contract = try Self.contract()
        let closed = BillingPeriodClosed(
            runId: "run-1", asOf: Self.day, customerId: "c-1", customers: 2,
            services: [
                .init(
                    serviceId: "vm-1", planId: "vm", billingModel: .fixedTerm, revision: 4, previousRevision: 3,
                    contracts: [contract])
            ])
        let closedBack = try Self.travelled(closed)
        #expect(closedBack == closed)
        #expect(try closedBack.services[0].contracts() == [contract])
        let gbp = Currency(code: "GBP")!
        let period = BillingPeriod(start: Self.day.adding(months: -1), end: Self.day)
        let drafted = InvoiceDrafted(
            runId: "run-1", asOf: Self.day, customerId: "c-1", cutoff: Self.day, contracts: [contract],
            services: ["vm-1": [.init(planId: "vm", serviceType: "vm", period: period)]],
            lines: [.init(period: period, amount: Money(decimal: "99.90", currency: gbp)!)])
        #expect(try Self.travelled(drafted) == drafted)
        // A prorated figure travels exact, not rounded.
        let window = CommitmentsEvaluated.Window(
            contractId: "vm-1-1", commitmentId: "spend", window: 3, committed: Rational(100),
            actual: Rational(1700) / Rational(31))
        let evaluated = CommitmentsEvaluated(runId: "run-1", customerId: "c-1", windows: [window])
        #expect(try Self.travelled(evaluated) == evaluated)
    }

    @Test("A message missing a field, or carrying one of the wrong kind, is a rejection naming it")
    func rejections() {
        let cases: [(JSONValue, String)] = [
            (.object(["records": .array([.object(["usage_id": .string("u-1")])])]), "data.records[0].customer_id"),
            (.object(["run_id": .string("r"), "as_of": .string("2026-02-30")]), "data.as_of"),
        ]
        for (data, field) in cases {
            let event = CloudEvent(
                id: "m-1", source: "covenant/test", type: UsageRated.type, time: "2026-03-01T00:00:00Z",
                tenantId: "acme", causationId: nil, data: data)
            let rejection =
                (data["records"] == nil
                    ? #expect(throws: Rejection.self) { try BillingRunPart(decoding: event) }
                    : #expect(throws: Rejection.self) { try UsageRated(decoding: event) })
            #expect(rejection?.code == .invalidMessage)
            #expect(rejection?.message.contains(field) == true, "\(rejection?.message ?? "none")")
        }
    }
}
