import BillingDomain
import PropertyBased
import Testing

/// For all contracts and commitments the interface admits, at the edges of every input bound:
/// signing, cancelling and billing either give a result or report an overflow (a rejection of
/// the command that drove it), and never stop the process. A trap would end the test run.
@Suite("No input traps")
struct NoTrapPropertyTests {
    static let terms = [1, 3, 4, 6, 12, 24, 36, 48, 60]
    static let fees = ["0.00", "0.01", "1000.00", "999999999999.99"]
    static let percents = ["0", "0.000001", "10", "99.999999", "100"]
    static let amounts = ["0", "0.0001", "1", "12345.6789", "999999999999.9999"]
    static let prices = ["0", "0.000000001", "0.37", "999999999.999999999"]
    static let quantities = ["0", "0.000001", "1", "333333.333333", "999999999999.999999"]

    /// One of `list`, shrinking toward its first.
    static func one<T: Sendable>(_ list: [T]) -> Generator<T, Shrink.Integer<Int>> {
        Gen.int(in: 0...(list.count - 1)).map { list[$0] }
    }

    static let penalty = zip(Gen.int(in: 0...3), one(prices), one(amounts)).map {
        kind, price, amount -> Commitment.Penalty in
        switch kind {
        case 0: .count(unitPrice: dec(price))
        case 1:
            .tiered(tiers: [
                PriceTier(upTo: dec("1"), unitPrice: dec(price)), PriceTier(upTo: nil, unitPrice: dec("0.5")),
            ])
        case 2: .flat(amount: dec(amount))
        default: .charge
        }
    }

    /// An average over many services: a denominator of up to 10^6 × 23 under its shortfall.
    static let services = ["vm-1"] + (1...22).map { "sim-\($0)" }

    /// Unlike frequencies make the least common denominators that overflow: primes first.
    static let frequencies = [
        1, 1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 4, 6, 12, 24, 60,
    ]

    /// Mostly `invoice_amount` at large amounts: what a cancellation's fee sums.
    static let commitment = zip(
        Gen.int(in: 0...5), one(frequencies), one(Array(amounts.reversed())).array(of: 1...3), penalty
    ).compactMap { kind, frequency, amounts, penalty -> Commitment? in
        let measure: Commitment.Measure =
            switch kind {
            case 0: .usage(metric: "gb")
            case 1: .averageUsage(metric: "gb", serviceIds: services)
            default: .invoiceAmount
            }
        let ramp = amounts.enumerated().map {
            Commitment.RampStep(fromWindow: 1 + 7 * $0.offset, amount: dec($0.element))
        }
        let penaltyFits = measure == .invoiceAmount || penalty != .charge
        return penaltyFits
            ? try? Commitment.validated(
                id: "c\(kind)-\(frequency)", measure: measure, frequencyMonths: frequency, ramp: ramp, penalty: penalty
            ).get() : nil
    }

    static let earlyTermination = zip(Gen.int(in: 0...5), one(Array(percents.reversed()))).map {
        kind, percent -> EarlyTerminationPolicy? in
        switch kind {
        case 0: nil
        case 1: .remainder
        case 2: .flatFee(dec("999999999999.9999"))
        default: .percentOfRemainingCommitments(dec(percent))
        }
    }

    static let contract = zip(
        one(terms), one(fees), one(percents), earlyTermination,
        commitment.array(of: 0...24), Gen.int(in: 0...400)
    ).compactMap { term, fee, discount, early, commitments, startDay -> Contract? in
        let terms = ContractTerms(
            termMonths: term, monthlyFee: dec(fee), discountPercent: dec(discount), earlyTermination: early,
            commitments: commitments)
        return try? Contract.sign(
            id: "c-1", customerId: "cust-1", serviceId: "vm-1", plan: plan(fee: fee), tenant: tenant(),
            paymentMode: .postpaid, start: date("2025-01-01").adding(days: startDay), terms: terms
        ).get()
    }

    static let perGB = try! UsagePrice.validated(metric: "gb", model: .perUnit(unitPrice: dec("999999999.999999999")))
        .get()

    /// Shortfalls as windows make them: a committed amount pro rata by days (10^4 × days under
    /// it) less an average over services (10^6 × their count).
    static let shortfall = zip(one(Array(amounts.reversed())), Gen.int(in: 1...1891), Gen.int(in: 1...1000))
        .map { amount, days, count -> Rational in
            let committed = dec(amount) * Rational(days) / Rational(days + 1)
            return Rational.max(committed - Rational(1, 1_000_000) / Rational(count), .zero)
        }

    @Test("Every penalty of every shortfall is computed or reported, never trapped on")
    func penalties() async {
        await propertyCheck(count: 500, input: Self.penalty, Self.shortfall) { penalty, shortfall in
            guard
                let commitment = try? Commitment.validated(
                    id: "p", measure: penalty == .charge ? .invoiceAmount : .usage(metric: "gb"), frequencyMonths: 1,
                    ramp: [Commitment.RampStep(fromWindow: 1, amount: dec("1"))], penalty: penalty
                ).get()
            else { return }
            do throws(ArithmeticOverflow) {
                #expect(try !commitment.penaltyAmount(shortfall: shortfall).isNegative)
            } catch {
                #expect(error.operation.isEmpty == false)
            }
        }
    }

    @Test("Cancelling any admitted contract gives a fee or a rejection, never a trap")
    func cancellation() async {
        await propertyCheck(count: 400, input: Self.contract, Gen.int(in: 0...2000)) { contract, day in
            let result = contract.cancelled(effective: contract.start.adding(days: day), tenant: tenant())
            if case .failure(let rejection) = result {
                #expect(
                    [.invalidMessage, .cancellationBlocked].contains(rejection.code), "unexpected \(rejection)")
            }
        }
    }

    @Test("Billing any admitted contract with usage at the bounds gives invoices or an overflow, never a trap")
    func billing() async {
        await propertyCheck(count: 150, input: Self.contract, Self.one(Self.quantities).array(of: 1...6)) {
            contract, quantities in
            var invoicing = CustomerLedger(customerId: "cust-1")
            var commitments = CommitmentLedger(customerId: "cust-1")
            invoicing.record(contract)
            commitments.record(contract)
            for service in Self.services {
                commitments.record(
                    serviceId: service,
                    span: .init(planId: contract.planId, serviceType: "vm", period: contract.billedPeriod))
            }
            for (index, quantity) in quantities.enumerated() {
                let day = contract.start.adding(days: 9 * index)
                for service in ["sim-1", "sim-2"] {
                    invoicing.recordUsage(
                        serviceId: service, metric: "gb", quantity: dec(quantity), on: day, price: Self.perGB,
                        currency: inr)
                    commitments.recordUsage(serviceId: service, metric: "gb", quantity: dec(quantity), on: day)
                }
            }
            for month in 1...13 {
                do {
                    _ = try invoicing.runBilling(
                        asOf: contract.start.startOfMonth.adding(months: month), evaluating: &commitments)
                } catch {
                    #expect(!"\(error)".isEmpty)  // reported: the run's message is rejected
                }
            }
        }
    }
}
