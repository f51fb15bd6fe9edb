import BillingDomain
import Testing

let gbp = Currency(code: "GBP")!

func commitment(
    _ id: String = "c", _ measure: Commitment.Measure, frequency: Int = 1, period: Int? = nil,
    ramp: [(Int, String)] = [(1, "100")], penalty: Commitment.Penalty
) -> Commitment {
    try! Commitment.validated(
        id: id, measure: measure, frequencyMonths: frequency, periodMonths: period,
        ramp: ramp.map { Commitment.RampStep(fromWindow: $0.0, amount: dec($0.1)) }, penalty: penalty
    ).get()
}

/// A customer with both ledgers, a contract, and helpers to feed them as the workers would.
struct CommitmentScenario {
    var invoicing = CustomerLedger(customerId: "cust-1")
    var commitments = CommitmentLedger(customerId: "cust-1")
    let contract: Contract

    init(start: String = "2025-01-01", fee: String, currency: Currency = gbp, terms: ContractTerms) {
        contract = workedExampleContract(
            start: start, terms: terms, on: plan("vm-standard", fee: fee, currency: currency))
        invoicing.record(contract)
        commitments.record(contract)
        commitments.record(
            serviceId: contract.serviceId,
            span: .init(planId: contract.planId, serviceType: "vm", period: contract.billedPeriod))
    }

    static let perGB = try! UsagePrice.validated(metric: "gb", model: .perUnit(unitPrice: dec("1.00"))).get()

    /// PAYG usage of another service, rated to both ledgers.
    mutating func usage(
        _ quantity: String, on day: String, service: String = "sim-1", metric: String = "gb", currency: Currency = gbp
    ) {
        invoicing.recordUsage(
            serviceId: service, metric: metric, quantity: dec(quantity), on: date(day), price: Self.perGB,
            currency: currency)
        commitments.recordUsage(serviceId: service, metric: metric, quantity: dec(quantity), on: date(day))
    }

    mutating func run(_ day: String) -> [Invoice] {
        do {
            return try invoicing.runBilling(asOf: date(day), evaluating: &commitments)
        } catch {
            Issue.record("the run of \(day) overflowed: \(error)")
            return []
        }
    }

    /// The shortfall lines of a run.
    mutating func shortfalls(_ day: String) -> [InvoiceLine] {
        run(day).flatMap(\.lines).filter { $0.kind == .commitmentShortfall }
    }
}

@Suite("Commitments: windows, actuals and shortfall penalties")
struct CommitmentTests {
    /// The seed's ramp: at least £10,000 a month for months 1–4, £20,000 for 5–8, £30,000
    /// after; a `charge` (true-up) penalty. The contract bills £8,000 a month; a PAYG SIM of the
    /// same customer adds £1 per GB.
    @Test("The seed's ramp, with spend below and above the minimum in different months")
    func seedRamp() throws {
        let spend = commitment(
            "spend", .invoiceAmount, ramp: [(1, "10000"), (5, "20000"), (9, "30000")], penalty: .charge)
        var scenario = CommitmentScenario(
            fee: "8000.00", terms: ContractTerms(termMonths: 12, commitments: [spend]))
        let usage = [
            ("2025-02-10", "2500"), ("2025-03-10", "2000"), ("2025-04-10", "2000"), ("2025-05-10", "15000"),
            ("2025-06-10", "4000"), ("2025-09-10", "21999.99"),
        ]
        for (day, quantity) in usage { scenario.usage(quantity, on: day) }

        func shortfall(_ run: String) -> [String] {
            scenario.shortfalls(run).map { $0.amount.decimalText }
        }
        // Jan: 8000 of 10000 → true-up 2000.00.
        #expect(shortfall("2025-02-01") == ["2000.00"])
        // Feb: 8000 + 2500 = 10500 ≥ 10000: nothing.
        #expect(shortfall("2025-03-01") == [])
        // Mar, Apr: 8000 + 2000 = 10000 exactly: met, no line.
        #expect(shortfall("2025-04-01") == [])
        #expect(shortfall("2025-05-01") == [])
        // May (window 5, 20000): 8000 + 15000 = 23000: nothing.
        #expect(shortfall("2025-06-01") == [])
        // Jun: 8000 + 4000 = 12000 of 20000 → 8000.00.
        #expect(shortfall("2025-07-01") == ["8000.00"])
        // Jul, Aug: 8000 of 20000 → 12000.00 each.
        #expect(shortfall("2025-08-01") == ["12000.00"])
        #expect(shortfall("2025-09-01") == ["12000.00"])
        // Sep (window 9, 30000): 8000 + 21999.99 = 29999.99 → 0.01.
        let september = scenario.run("2025-10-01")
        let line = try #require(september.flatMap(\.lines).first { $0.kind == .commitmentShortfall })
        #expect(line.amount == money("0.01", gbp))
        let outcome = try #require(line.commitment)
        #expect(outcome.commitmentId == "spend")
        #expect(outcome.committed == dec("30000") && outcome.actual == dec("29999.99"))
        #expect(outcome.shortfall == dec("0.01"))
        #expect(line.serviceId == "vm-1" && line.period == period("2025-09-01", "2025-10-01"))
        // The invoice itself: recurring 8000 + usage 21999.99 + penalty 0.01.
        #expect(september.first?.total == money("30000.00", gbp))
        // A repeated run evaluates nothing again.
        #expect(scenario.run("2025-10-01") == [])
    }

    @Test("The seed's average usage: SIM A 8 MB and SIM B 12 MB average 10 MB: met; 8 and 10: missed by 1")
    func averageUsage() {
        let average = commitment(
            "avg", .averageUsage(metric: "mb", serviceIds: ["sim-a", "sim-b"]), ramp: [(1, "10")],
            penalty: .count(unitPrice: dec("5.00")))
        var scenario = CommitmentScenario(fee: "100.00", terms: ContractTerms(termMonths: 3, commitments: [average]))
        for sim in ["sim-a", "sim-b"] {
            scenario.commitments.record(
                serviceId: sim,
                span: .init(planId: "sim-plan", serviceType: "sim", period: period("2025-01-01", "2026-01-01")))
        }
        scenario.usage("8", on: "2025-01-05", service: "sim-a", metric: "mb")
        scenario.usage("12", on: "2025-01-20", service: "sim-b", metric: "mb")
        // (8 + 12) / 2 = 10 ≥ 10.
        #expect(scenario.shortfalls("2025-02-01").isEmpty)
        scenario.usage("8", on: "2025-02-05", service: "sim-a", metric: "mb")
        scenario.usage("10", on: "2025-02-20", service: "sim-b", metric: "mb")
        // (8 + 10) / 2 = 9: shortfall 1 × 5.00.
        let lines = scenario.shortfalls("2025-03-01")
        #expect(lines.map(\.amount) == [money("5.00", gbp)])
        #expect(lines.first?.commitment?.actual == dec("9"))
        // March: usage of a SIM outside the set does not count; both SIMs still active: 0 average.
        scenario.usage("50", on: "2025-03-05", service: "sim-c", metric: "mb")
        #expect(scenario.shortfalls("2025-04-01").map(\.amount) == [money("50.00", gbp)])
    }

    @Test("An average over no active listed service has nothing to measure: no line")
    func averageWithoutServices() {
        let average = commitment(
            "avg", .averageUsage(metric: "mb", serviceIds: ["sim-a"]), ramp: [(1, "10")],
            penalty: .count(unitPrice: dec("5.00")))
        var scenario = CommitmentScenario(fee: "100.00", terms: ContractTerms(termMonths: 3, commitments: [average]))
        scenario.commitments.record(
            serviceId: "sim-a",
            span: .init(planId: "sim-plan", serviceType: "sim", period: period("2025-02-01", "2025-03-01")))
        // January: sim-a not yet active. February: active, no usage: 10 × 5.00.
        #expect(scenario.shortfalls("2025-02-01").isEmpty)
        #expect(scenario.shortfalls("2025-03-01").map(\.amount) == [money("50.00", gbp)])
    }

    struct PenaltyCase: Sendable, CustomTestStringConvertible {
        let name: String
        let penalty: Commitment.Penalty
        let usage: String
        let expected: String?
        var testDescription: String { name }
    }

    /// A usage commitment of 100 MB a month; January's usage as given.
    @Test(
        "Usage commitment of 100 MB a month under each penalty",
        arguments: [
            // 100 − 70 = 30 MB short × 0.10 = 3.00.
            PenaltyCase(name: "per unit", penalty: .count(unitPrice: dec("0.10")), usage: "70", expected: "3.00"),
            // Shortfall 75 over 0–10 @1, 10–50 @2, above @3: 10 + 80 + 75 = 165.00.
            PenaltyCase(
                name: "three tiers", penalty: .tiered(tiers: threeTiers), usage: "25", expected: "165.00"),
            // Shortfall 5: all in the first tier, 5 × 1 = 5.00.
            PenaltyCase(
                name: "three tiers, first only", penalty: .tiered(tiers: threeTiers), usage: "95", expected: "5.00"),
            // Shortfall 50 = exactly the second bound: 10 + 40 × 2 = 90.00 (up_to inclusive).
            PenaltyCase(
                name: "three tiers, at a bound", penalty: .tiered(tiers: threeTiers), usage: "50", expected: "90.00"),
            // Shortfall 98.5 over four tiers: 10×1 + 40×2 + 40×3 + 8.5×4 = 244.00.
            PenaltyCase(name: "four tiers", penalty: .tiered(tiers: fourTiers), usage: "1.5", expected: "244.00"),
            PenaltyCase(name: "flat", penalty: .flat(amount: dec("250.00")), usage: "99.999", expected: "250.00"),
            PenaltyCase(
                name: "met exactly: no line", penalty: .flat(amount: dec("250.00")), usage: "100", expected: nil),
            PenaltyCase(
                name: "exceeded: no line", penalty: .count(unitPrice: dec("0.10")), usage: "130", expected: nil),
        ])
    func usagePenalties(_ example: PenaltyCase) {
        let sms = commitment("sms", .usage(metric: "sms_mo_mb"), ramp: [(1, "100")], penalty: example.penalty)
        var scenario = CommitmentScenario(fee: "100.00", terms: ContractTerms(termMonths: 3, commitments: [sms]))
        scenario.usage(example.usage, on: "2025-01-15", metric: "sms_mo_mb")
        let lines = scenario.shortfalls("2025-02-01")
        #expect(lines.map(\.amount.decimalText) == (example.expected.map { [$0] } ?? []))
    }

    static let threeTiers = [
        PriceTier(upTo: dec("10"), unitPrice: dec("1")), PriceTier(upTo: dec("50"), unitPrice: dec("2")),
        PriceTier(upTo: nil, unitPrice: dec("3")),
    ]
    static let fourTiers = [
        PriceTier(upTo: dec("10"), unitPrice: dec("1")), PriceTier(upTo: dec("50"), unitPrice: dec("2")),
        PriceTier(upTo: dec("90"), unitPrice: dec("3")), PriceTier(upTo: nil, unitPrice: dec("4")),
    ]

    @Test("A partial first window is committed pro rata by days, and counts only its own days")
    func partialFirstWindow() throws {
        let sms = commitment(
            "sms", .usage(metric: "sms_mo_mb"), ramp: [(1, "100")], penalty: .count(unitPrice: dec("1.00")))
        var scenario = CommitmentScenario(
            start: "2025-01-15", fee: "100.00", terms: ContractTerms(termMonths: 3, commitments: [sms]))
        scenario.usage("40", on: "2025-01-10", metric: "sms_mo_mb")  // before the window: not counted
        scenario.usage("50", on: "2025-01-15", metric: "sms_mo_mb")
        let line = try #require(scenario.shortfalls("2025-02-01").first)
        let outcome = try #require(line.commitment)
        // 100 × 17/31 = 54.8387…; actual 50; shortfall 4.8387… × 1.00 → 4.84.
        #expect(outcome.committed == Rational(1700, 31))
        #expect(outcome.actual == dec("50"))
        #expect(line.amount == money("4.84", gbp))
        #expect(line.period == period("2025-01-15", "2025-02-01"))
        // The last window is partial too: 1–14 April, 100 × 14/30, closed by the May run.
        let windows = scenario.contract.windows(of: sms)
        #expect(
            windows.map(\.days) == [
                period("2025-01-15", "2025-02-01"), period("2025-02-01", "2025-03-01"),
                period("2025-03-01", "2025-04-01"), period("2025-04-01", "2025-04-15"),
            ])
        #expect(windows.last?.committed == Rational(1400, 30))
        #expect(windows.last?.closesOn == date("2025-05-01"))
    }

    @Test("Windows follow frequency_months and stop at period_months")
    func windowsAndPeriod() {
        let quarterly = commitment(
            "q", .invoiceAmount, frequency: 3, period: 6, ramp: [(1, "900"), (2, "1800")], penalty: .charge)
        let contract = workedExampleContract(
            start: "2025-02-10", terms: ContractTerms(termMonths: 12, commitments: [quarterly]))
        let windows = contract.windows(of: quarterly)
        // Nominal quarters from 1 Feb; the commitment runs 2025-02-10 … 2025-08-10.
        #expect(
            windows.map(\.nominal) == [
                period("2025-02-01", "2025-05-01"), period("2025-05-01", "2025-08-01"),
                period("2025-08-01", "2025-11-01"),
            ])
        #expect(
            windows.map(\.days) == [
                period("2025-02-10", "2025-05-01"), period("2025-05-01", "2025-08-01"),
                period("2025-08-01", "2025-08-10"),
            ])
        // 900 × 80/89; 1800 in full; 1800 × 9/92.
        #expect(windows.map(\.committed) == [Rational(900 * 80, 89), dec("1800"), Rational(1800 * 9, 92)])
    }

    @Test("Cancellation mid-window: percent_of_remaining_commitments, and the cut window pro rata")
    func cancellationMidWindow() throws {
        let quarterly = commitment("spend", .invoiceAmount, frequency: 3, ramp: [(1, "10000")], penalty: .charge)
        var scenario = CommitmentScenario(
            fee: "3000.00",
            terms: ContractTerms(
                termMonths: 12, earlyTermination: .percentOfRemainingCommitments(dec("50")), commitments: [quarterly]))
        _ = scenario.run("2025-05-01")
        let cancellation = try scenario.contract.cancelled(effective: date("2025-05-16"), tenant: tenant()).get()
        // Remaining: 10000 × 46/91 (16 May – 30 Jun) + 10000 (Q3) + 10000 (Q4) = 25054.945…;
        // 50 % = 12527.4725… → 12527.47.
        let fee = try #require(cancellation.earlyTerminationFee)
        #expect(fee.amount == money("12527.47", gbp))
        scenario.invoicing.record(cancellation.contract)
        scenario.invoicing.add(fee)
        scenario.commitments.record(cancellation.contract)

        let june = scenario.run("2025-06-01")
        let lines = june.flatMap(\.lines)
        // May: 15/31 × 3000 = 1451.6129… → 1451.61; window 2 cut to 1 Apr – 15 May:
        // committed 10000 × 45/91 = 4945.054…; actual 3000 (April) + 1451.61 = 4451.61;
        // shortfall 493.444… → 493.44. The early-termination line does not count as spend.
        #expect(lines.map(\.kind) == [.recurring, .earlyTermination, .commitmentShortfall])
        #expect(lines.map(\.amount.decimalText) == ["1451.61", "12527.47", "493.44"])
        #expect(lines[2].commitment?.actual == dec("4451.61"))
        #expect(lines[2].period == period("2025-04-01", "2025-05-16"))
        #expect(scenario.run("2025-07-01") == [])
    }

    @Test("invoice_amount counts PAYG lines of other services, in the contract's currency only, never penalty lines")
    func invoiceAmountActual() throws {
        let spend = commitment("spend", .invoiceAmount, ramp: [(1, "1000")], penalty: .charge)
        var scenario = CommitmentScenario(fee: "500.00", terms: ContractTerms(termMonths: 12, commitments: [spend]))
        scenario.usage("300", on: "2025-01-05", service: "sim-1")
        scenario.usage("999", on: "2025-01-05", service: "sim-9", currency: usd)
        let january = period("2025-01-01", "2025-02-01")
        let penalties = [
            InvoiceLine(
                kind: .commitmentShortfall, serviceId: "vm-1", contractId: "x", period: january, description: "p",
                grossAmount: money("50.00", gbp)),
            InvoiceLine(
                kind: .earlyTermination, serviceId: "vm-1", contractId: "x", period: january, description: "e",
                grossAmount: money("70.00", gbp)),
        ]
        let draft = scenario.invoicing.draftRun(asOf: date("2025-02-01"))
        let lines = try scenario.commitments.evaluate(draft: draft.lines + penalties, cutoff: draft.cutoff)
        // 500 (recurring) + 300 (PAYG sim-1, GBP) = 800; USD usage and penalty lines left out.
        #expect(scenario.commitments.actual(.invoiceAmount, in: january, currency: gbp) == dec("800"))
        #expect(lines.map(\.amount) == [money("200.00", gbp)])
    }

    @Test("service, package_service and package count distinct services active in the window")
    func serviceCounts() {
        var ledger = CommitmentLedger(customerId: "cust-1")
        let year = period("2025-01-01", "2026-01-01")
        ledger.record(serviceId: "sim-1", span: .init(planId: "sim-a", serviceType: "sim", period: year))
        ledger.record(
            serviceId: "sim-2",
            span: .init(planId: "sim-b", serviceType: "sim", period: period("2025-01-01", "2025-02-10")))
        ledger.record(
            serviceId: "sim-2",
            span: .init(planId: "sim-a", serviceType: "sim", period: period("2025-02-10", "2026-01-01")))
        ledger.record(
            serviceId: "sim-3",
            span: .init(planId: "sim-b", serviceType: "sim", period: period("2025-03-01", "2025-03-02")))
        ledger.record(serviceId: "vm-1", span: .init(planId: "sim-a", serviceType: "vm", period: year))
        let february = period("2025-02-01", "2025-03-01")
        let march = period("2025-03-01", "2025-04-01")
        #expect(ledger.actual(.service(serviceType: "sim"), in: february, currency: gbp) == dec("2"))
        #expect(ledger.actual(.service(serviceType: "sim"), in: march, currency: gbp) == dec("3"))
        // sim-2 was on both plans in February: it counts for each, once.
        #expect(ledger.actual(.package(planId: "sim-b"), in: february, currency: gbp) == dec("1"))
        #expect(ledger.actual(.package(planId: "sim-a"), in: february, currency: gbp) == dec("3"))
        #expect(
            ledger.actual(.packageService(planId: "sim-a", serviceType: "sim"), in: february, currency: gbp) == dec("2")
        )
        #expect(
            ledger.actual(.package(planId: "sim-b"), in: period("2025-04-01", "2025-05-01"), currency: gbp) == .zero)
    }

    @Test("Shortfall lines go to charge_to_service_id")
    func chargeTo() {
        let sms = commitment("sms", .usage(metric: "sms"), penalty: .flat(amount: dec("10")))
        var scenario = CommitmentScenario(
            fee: "100.00", terms: ContractTerms(termMonths: 1, chargeToServiceId: "billing-account", commitments: [sms])
        )
        #expect(scenario.shortfalls("2025-02-01").map(\.serviceId) == ["billing-account"])
    }
}
