import BillingDomain
import Testing

/// Hostile numbers: every one is refused or reported, none stops the process (docs/billing.md,
/// "Limits that protect every tenant").
@Suite("Limits that protect every tenant")
struct InputLimitsTests {
    @Test("Decimal text too long for Int128 is refused, not trapped on")
    func longDecimals() {
        #expect(Rational(decimal: String(repeating: "9", count: 40)) == nil)
        #expect(Rational(decimal: String(repeating: "9", count: 19)) == nil)  // past 18 integer digits
        #expect(Rational(decimal: "0." + String(repeating: "1", count: 45)) == nil)
        #expect(Rational(storedDecimal: String(repeating: "9", count: 39)) == nil)
        #expect(Rational(storedDecimal: String(repeating: "9", count: 38)) != nil)
        #expect(Rational(decimal: "999999999999999999.999999999999") != nil)  // 18 + 12 digits
    }

    /// The attack: thirteen `invoice_amount` commitments of prime frequencies on a
    /// 60-month term; their windows' day counts make a common denominator past Int128.
    static func primeCommitments(_ count: Int) -> [Commitment] {
        [1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37].prefix(count).map { frequency in
            commitment(
                "c\(frequency)", .invoiceAmount, frequency: frequency, ramp: [(1, "999999999999.9999")],
                penalty: .charge)
        }
    }

    @Test("A cancellation fee past Int128 is a rejection of the cancellation, not a crash")
    func cancellationOverflow() throws {
        let terms = ContractTerms(
            termMonths: 60, earlyTermination: .percentOfRemainingCommitments(dec("99.999999")),
            commitments: Self.primeCommitments(13))
        let contract = workedExampleContract(start: "2025-01-15", terms: terms)
        let rejection = contract.cancelled(effective: date("2025-03-10"), tenant: tenant()).rejection
        #expect(rejection?.code == .invalidMessage)
        #expect(rejection?.details["reason"] == "arithmetic_overflow")
        // Two of them compute: 50 % of what is left, pro rata by days, rounded once.
        let two = ContractTerms(
            termMonths: 60, earlyTermination: .percentOfRemainingCommitments(dec("50")),
            commitments: Self.primeCommitments(2))
        let cancelled = try workedExampleContract(start: "2025-01-15", terms: two)
            .cancelled(effective: date("2025-03-10"), tenant: tenant()).get()
        #expect(try #require(cancelled.earlyTerminationFee).amount.isNegative == false)
    }

    @Test("A package price that could leave Int128 is refused when the plan is stored")
    func packageBound() throws {
        let refused = UsagePrice.validated(
            metric: "gb", model: .package(packageSize: dec("0.000000003"), unitPrice: dec("999999999.999999999")))
        #expect(refused.rejection?.code == .invalidMessage)
        // The largest price on the smallest package that still fits prices the largest month.
        let kept = try UsagePrice.validated(
            metric: "gb", model: .package(packageSize: dec("1"), unitPrice: dec("999999999.999999999"))
        ).get()
        let most = kept.price(of: Rational(InputLimits.quantity.maximum))
        #expect(Money.rounding(most, in: bhd).minorUnits > 0)
    }

    @Test("A penalty too fine to compute exactly is reported, as the commitment's rejection")
    func penaltyOverflow() throws {
        let count = commitment(
            "avg", .averageUsage(metric: "sms", serviceIds: ["a", "b"]),
            penalty: .count(unitPrice: dec("999999999.999999999")))
        // A shortfall of an average over many services, days into a window: a large denominator.
        let shortfall = Rational(999_999_999_999_999_999_999_999, 1_054_000_000_000_001)
        #expect(throws: ArithmeticOverflow.self) { try count.penaltyAmount(shortfall: shortfall) }
        #expect(try count.penaltyAmount(shortfall: dec("12.5")) == dec("12499999999.9999999875"))
    }

    @Test("Commitments, ramp steps and tiers are capped")
    func caps() {
        let many = (1...(InputLimits.commitmentsPerContract + 1)).map { index in
            commitment("c\(index)", .invoiceAmount, penalty: .charge)
        }
        let signed = Contract.sign(
            id: "c-1", customerId: "cust-1", serviceId: "vm-1", plan: plan(), tenant: tenant(), paymentMode: .postpaid,
            start: date("2025-01-15"), terms: ContractTerms(termMonths: 12, commitments: many))
        #expect(signed.rejection?.code == .invalidCommitment)
        let steps = (1...(InputLimits.rampSteps + 1)).map { Commitment.RampStep(fromWindow: $0, amount: dec("1")) }
        let ramped = Commitment.validated(
            id: "r", measure: .invoiceAmount, frequencyMonths: 1, ramp: steps, penalty: .charge)
        #expect(ramped.rejection?.code == .invalidCommitment)
        let tiers =
            (1...InputLimits.tiers).map { PriceTier(upTo: Rational($0), unitPrice: dec("1")) }
            + [PriceTier(upTo: nil, unitPrice: dec("1"))]
        #expect(UsagePrice.validated(metric: "gb", model: .graduated(tiers: tiers)).rejection?.code == .invalidMessage)
        #expect(UsagePrice.validated(metric: "gb", model: .graduated(tiers: Array(tiers.suffix(100)))).rejection == nil)
    }

    @Test("The date window: ten years either way, the same month and day clamped; runs a day ahead")
    func dateWindow() {
        let window = DateWindow.standard
        let leapDay = date("2024-02-29")
        #expect(window.range(today: leapDay) == date("2014-02-28")...date("2034-02-28"))
        #expect(window.problem(date("2014-02-28"), field: "data.start_date", today: leapDay) == nil)
        let early = window.problem(date("2014-02-27"), field: "data.start_date", today: leapDay)
        #expect(early?.code == .dateOutOfRange)
        #expect(early?.details["earliest_allowed_date"] == "2014-02-28")
        #expect(
            window.problem(date("2034-03-01"), field: "data.effective_date", today: leapDay)?.code == .dateOutOfRange)
        #expect(DateWindow.runProblem(asOf: date("2024-03-01"), today: leapDay) == nil)
        #expect(DateWindow.runProblem(asOf: date("2024-03-02"), today: leapDay)?.code == .dateOutOfRange)
        #expect(DateWindow(years: 2).range(today: leapDay).lowerBound == date("2022-02-28"))
    }
}

@Suite("Rational arithmetic at Int128's edge")
struct RationalEdgeTests {
    static let huge = Rational(Int128.max / 3, 7)
    static let tiny = Rational(1, Int128.max / 5)

    @Test("Comparisons of values whose cross products leave Int128 are exact")
    func comparisons() {
        #expect(Self.tiny < Self.huge)
        #expect(!(Self.huge < Self.tiny))
        #expect(-Self.huge < Self.tiny)
        #expect(Rational(Int128.max / 2, Int128.max / 3) < Rational(Int128.max / 2 + 1, Int128.max / 3))
    }

    @Test("The checked forms report what the operators would stop on")
    func checked() throws {
        #expect(throws: ArithmeticOverflow.self) { try Self.huge.multiplied(by: Self.huge) }
        #expect(throws: ArithmeticOverflow.self) { try Self.huge.adding(Self.tiny) }
        #expect(throws: ArithmeticOverflow.self) { try Self.huge.divided(by: Self.tiny) }
        #expect(throws: ArithmeticOverflow.self) { try Self.huge.checkedRoundedHalfUp(scale: 4) }
        #expect(try Self.huge.adding(-Self.huge) == .zero)
        #expect(try Rational(3, 4).multiplied(by: Rational(8, 9)) == Rational(2, 3))
        #expect(try Rational(3, 4).divided(by: Rational(-3, 8)) == Rational(-2))
    }
}
