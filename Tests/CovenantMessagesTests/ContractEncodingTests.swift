import BillingDomain
import CovenantMessages
import Testing

@Suite("Contracts as stored JSON")
struct ContractEncodingTests {
    @Test("A contract with every kind of term survives encoding and decoding unchanged")
    func roundTrip() throws {
        let commitments = [
            try Commitment.validated(
                id: "spend", measure: .invoiceAmount, frequencyMonths: 3, periodMonths: 24,
                ramp: [.init(fromWindow: 1, amount: Rational(10000)), .init(fromWindow: 5, amount: Rational(20000))],
                penalty: .charge
            ).get(),
            try Commitment.validated(
                id: "sims", measure: .packageService(planId: "sim-a", serviceType: "sim"), frequencyMonths: 1,
                ramp: [.init(fromWindow: 1, amount: Rational(50))],
                penalty: .tiered(tiers: [
                    PriceTier(upTo: Rational(10), unitPrice: Rational(decimal: "0.5")!),
                    PriceTier(upTo: nil, unitPrice: Rational(1)),
                ])
            ).get(),
            try Commitment.validated(
                id: "avg", measure: .averageUsage(metric: "mb", serviceIds: ["a", "b"]), frequencyMonths: 1,
                ramp: [.init(fromWindow: 1, amount: Rational(10))],
                penalty: .count(unitPrice: Rational(decimal: "0.25")!)
            ).get(),
        ]
        let terms = ContractTerms(
            termMonths: 36, monthlyFee: Rational(decimal: "1234.50"), discountPercent: Rational(decimal: "7.5")!,
            cancellationDeadlineMonths: 6,
            renewal: .renewTo(ContractTerms(termMonths: 12, earlyTermination: .flatFee(Rational(500)))),
            earlyTermination: .percentOfRemainingCommitments(Rational(50)), chargeToServiceId: "vm-2",
            commitments: commitments)
        let tenant = Tenant(
            id: "acme", name: "Acme", platformLicense: PlatformLicense(kind: .virtual, status: .active),
            serviceContractsEnabled: true)
        let gbp = Currency(code: "GBP")!
        let plan = try Plan.validated(
            id: "vm", name: "VM", currency: gbp, monthlyFee: Money(decimal: "2000", currency: gbp)!, serviceType: "vm"
        ).get()
        let signed = try Contract.sign(
            id: "vm-1/1", customerId: "cust-1", serviceId: "vm-1", plan: plan, tenant: tenant, paymentMode: .manual,
            start: CalendarDate(year: 2025, month: 1, day: 15)!, terms: terms
        ).get()
        let cancelled = try signed.cancelled(effective: CalendarDate(year: 2025, month: 9, day: 1)!, tenant: tenant)
            .get().contract
        for contract in [signed, cancelled] {
            let json = JSONValue.parse(ContractEncoding.contract(contract).serialized())!
            #expect(try ContractEncoding.decodeContract(json) == contract)
        }
    }
}
