import BillingDomain
import Testing

@Suite("Commitment rules: validation, renewal and penalty properties")
struct CommitmentRulesTests {
    struct InvalidCase: Sendable, CustomTestStringConvertible {
        let name: String
        let measure: Commitment.Measure
        let frequency: Int
        let ramp: [Commitment.RampStep]
        let penalty: Commitment.Penalty
        var testDescription: String { name }
    }

    static func step(_ window: Int, _ amount: String) -> Commitment.RampStep {
        Commitment.RampStep(fromWindow: window, amount: dec(amount))
    }

    @Test(
        "Unusable commitments are rejected with invalid_commitment",
        arguments: [
            InvalidCase(
                name: "charge on a usage commitment", measure: .usage(metric: "gb"), frequency: 1, ramp: [step(1, "1")],
                penalty: .charge),
            InvalidCase(
                name: "charge on a service count", measure: .service(serviceType: "sim"), frequency: 1,
                ramp: [step(1, "1")], penalty: .charge),
            InvalidCase(
                name: "charge on average usage", measure: .averageUsage(metric: "mb", serviceIds: ["a"]), frequency: 1,
                ramp: [step(1, "1")], penalty: .charge),
            InvalidCase(name: "no ramp", measure: .invoiceAmount, frequency: 1, ramp: [], penalty: .charge),
            InvalidCase(
                name: "ramp not from window 1", measure: .invoiceAmount, frequency: 1, ramp: [step(2, "1")],
                penalty: .charge),
            InvalidCase(
                name: "ramp not increasing", measure: .invoiceAmount, frequency: 1,
                ramp: [step(1, "1"), step(5, "2"), step(5, "3")], penalty: .charge),
            InvalidCase(
                name: "negative amount", measure: .invoiceAmount, frequency: 1, ramp: [step(1, "-1")], penalty: .charge),
            InvalidCase(
                name: "zero frequency", measure: .invoiceAmount, frequency: 0, ramp: [step(1, "1")], penalty: .charge),
            InvalidCase(
                name: "average usage without services", measure: .averageUsage(metric: "mb", serviceIds: []),
                frequency: 1, ramp: [step(1, "1")], penalty: .flat(amount: dec("1"))),
            InvalidCase(
                name: "service without a type", measure: .service(serviceType: ""), frequency: 1, ramp: [step(1, "1")],
                penalty: .flat(amount: dec("1"))),
            InvalidCase(
                name: "negative count price", measure: .usage(metric: "gb"), frequency: 1, ramp: [step(1, "1")],
                penalty: .count(unitPrice: dec("-1"))),
            InvalidCase(
                name: "tiers without an open last tier", measure: .usage(metric: "gb"), frequency: 1,
                ramp: [step(1, "1")], penalty: .tiered(tiers: [PriceTier(upTo: dec("5"), unitPrice: dec("1"))])),
        ])
    func invalid(_ example: InvalidCase) {
        let result = Commitment.validated(
            id: "c", measure: example.measure, frequencyMonths: example.frequency, ramp: example.ramp,
            penalty: example.penalty)
        #expect(result.rejection?.code == .invalidCommitment)
    }

    @Test("A contract rejects duplicate commitment ids and a period longer than the term")
    func contractLevel() {
        let spend = commitment("spend", .invoiceAmount, penalty: .charge)
        let long = commitment("long", .invoiceAmount, period: 13, penalty: .charge)
        for terms in [
            ContractTerms(termMonths: 12, commitments: [spend, spend]),
            ContractTerms(termMonths: 12, commitments: [long]),
        ] {
            let result = Contract.sign(
                id: "c", customerId: "cust-1", serviceId: "vm-1", plan: plan(), tenant: tenant(),
                paymentMode: .postpaid,
                start: date("2025-01-01"), terms: terms)
            #expect(result.rejection?.code == .invalidCommitment)
        }
    }

    @Test("auto_renew carries the commitments on; renew_to replaces them with the new terms'")
    func renewal() throws {
        let spend = commitment("spend", .invoiceAmount, ramp: [(1, "10000"), (5, "20000")], penalty: .charge)
        let auto = workedExampleContract(
            terms: ContractTerms(termMonths: 12, renewal: .autoRenew, commitments: [spend]))
        let renewed = try #require(try auto.renewal(plan: plan(), tenant: tenant(), newContractId: "c-2").get())
        #expect(renewed.terms.commitments == [spend])
        // Windows restart with the new contract: window 1 is its first month again.
        #expect(renewed.windows(of: spend).first?.committed == Rational(10000 * 17, 31))

        let to = workedExampleContract(
            terms: ContractTerms(termMonths: 36, renewal: .renewTo(ContractTerms(termMonths: 12)), commitments: [spend])
        )
        let replaced = try #require(try to.renewal(plan: plan(), tenant: tenant(), newContractId: "c-3").get())
        #expect(replaced.terms.commitments.isEmpty)
    }

    @Test("A plan change keeps the commitments unless the command gives new ones")
    func planChange() throws {
        let spend = commitment("spend", .invoiceAmount, penalty: .charge)
        let contract = workedExampleContract(terms: ContractTerms(termMonths: 12, commitments: [spend]))
        let kept = try contract.changingPlan(
            to: plan("p2"), effective: date("2025-03-01"), tenant: tenant(), newContractId: "c-2"
        ).get()
        #expect(kept.newContract.terms.commitments == [spend])
        let dropped = try contract.changingPlan(
            to: plan("p2"), effective: date("2025-03-01"), tenant: tenant(),
            overrides: ContractTermsOverrides(commitments: []),
            newContractId: "c-2"
        ).get()
        #expect(dropped.newContract.terms.commitments.isEmpty)
    }

    /// Deterministic pseudo-random decimals with two places, 0 to 500.
    static func samples(count: Int, seed: UInt64) -> [Rational] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Rational(Int128(state >> 40) % 50_001, 100)
        }
    }

    static let penalties: [Commitment.Penalty] = [
        .charge, .count(unitPrice: dec("0.37")), .flat(amount: dec("25")),
        .tiered(tiers: CommitmentTests.threeTiers), .tiered(tiers: CommitmentTests.fourTiers),
    ]

    @Test("Penalties are never negative, and zero whenever actual ≥ committed")
    func penaltyProperties() throws {
        let committed = Self.samples(count: 300, seed: 11)
        let actual = Self.samples(count: 300, seed: 29)
        for penalty in Self.penalties {
            let measure: Commitment.Measure = penalty == .charge ? .invoiceAmount : .usage(metric: "gb")
            let commitment = commitment("c", measure, penalty: penalty)
            for (c, a) in zip(committed, actual) {
                let shortfall = Rational.max(c - a, .zero)
                let amount = try commitment.penaltyAmount(shortfall: shortfall)
                #expect(!amount.isNegative)
                if a >= c { #expect(amount.isZero) }
                if a < c { #expect(amount > .zero) }
            }
        }
    }

    @Test("A one-tier tiered penalty equals count at that price")
    func oneTierEqualsCount() throws {
        for price in ["0", "0.01", "0.37", "12.5"] {
            let tiered = commitment(
                "c", .usage(metric: "gb"), penalty: .tiered(tiers: [PriceTier(upTo: nil, unitPrice: dec(price))]))
            let count = commitment("c", .usage(metric: "gb"), penalty: .count(unitPrice: dec(price)))
            for shortfall in Self.samples(count: 200, seed: 5) {
                #expect(try tiered.penaltyAmount(shortfall: shortfall) == count.penaltyAmount(shortfall: shortfall))
            }
        }
    }
}
