import BillingDomain
import Testing

/// Cases a review of the domain found: each once billed wrongly or crashed.
@Suite("Regressions: backdated changes, commitment history, input bounds")
struct ReviewRegressionTests {
    @Test("A plan change dated inside days already invoiced is period_already_invoiced and changes nothing")
    func backdatedPlanChange() throws {
        var ledger = CustomerLedger(customerId: "cust-1")
        let contract = workedExampleContract()
        ledger.record(contract)
        _ = ledger.runBilling(asOf: date("2025-03-01"))  // February is invoiced
        let before = ledger
        let change = try contract.changingPlan(
            to: plan("vm-premium", fee: "2000.00"), effective: date("2025-02-15"), tenant: tenant(),
            newContractId: "c-2"
        ).get()
        #expect(ledger.invoicePlanChange(change).rejection?.code == .periodAlreadyInvoiced)
        #expect(ledger == before)
        // Without it, 15–28 Feb would have been billed twice (once per contract).
        #expect(
            ledger.runBilling(asOf: date("2025-04-01")).flatMap(\.lines).map(\.period) == [
                period("2025-03-01", "2025-04-01")
            ])
    }

    @Test("A plan change's immediate invoice counts toward invoice_amount commitments")
    func planChangeLinesCount() throws {
        let spend = commitment("spend", .invoiceAmount, ramp: [(1, "1000")], penalty: .charge)
        var scenario = CommitmentScenario(
            fee: "1000.00", currency: inr, terms: ContractTerms(termMonths: 12, commitments: [spend]))
        #expect(scenario.shortfalls("2025-02-01").isEmpty)  // January: 1000 of 1000
        let change = try scenario.contract.changingPlan(
            to: plan("vm-premium", fee: "2000.00"), effective: date("2025-02-15"), tenant: tenant(),
            newContractId: "c-2"
        ).get()
        let immediate = try scenario.invoicing.invoicePlanChange(change, evaluating: &scenario.commitments).get()
        #expect(immediate.flatMap(\.lines).map(\.amount) == [money("500.00")])
        // Old window 1–14 Feb: committed 1000 × 14/28 = 500, actual 500 (the immediate invoice).
        // New window 15–28 Feb: committed 500, actual 2000 × 14/28 = 1000. Both met.
        #expect(scenario.shortfalls("2025-03-01").isEmpty)
    }

    @Test("Numbers beyond the input limits are rejected, not trapped on")
    func inputLimits() {
        let finePrice = UsagePrice.validated(metric: "m", model: .perUnit(unitPrice: dec("0.123456789012")))
        #expect(finePrice.rejection?.code == .invalidMessage)
        let hugeFee = ContractTerms(termMonths: 12, monthlyFee: dec("100000000000000000"))
        let signed = Contract.sign(
            id: "c", customerId: "cust-1", serviceId: "vm-1", plan: plan(), tenant: tenant(), paymentMode: .postpaid,
            start: date("2025-01-01"), terms: hugeFee)
        #expect(signed.rejection?.code == .invalidMessage)
        let price = try! UsagePrice.validated(metric: "m", model: .perUnit(unitPrice: dec("1234.123456789"))).get()
        var ledger = CustomerLedger(customerId: "cust-1")
        for quantity in ["-1", "5000000000.1234567", "1000000000000.000001"] {
            let rejection = ledger.recordUsage(
                serviceId: "s", metric: "m", quantity: dec(quantity), on: date("2025-01-05"), price: price,
                currency: inr)
            #expect(rejection?.code == .invalidQuantity, "\(quantity)")
        }
        #expect(ledger.usage.isEmpty)
        // Up to the month's limit of 10^12, and not past it.
        #expect(
            ledger.recordUsage(
                serviceId: "s", metric: "m", quantity: dec("999999999999.999999"), on: date("2025-01-05"), price: price,
                currency: inr) == nil)
        #expect(
            ledger.recordUsage(
                serviceId: "s", metric: "m", quantity: dec("0.000002"), on: date("2025-01-06"), price: price,
                currency: inr)?.code == .invalidQuantity)
    }

    @Test("The largest admitted price times the largest admitted quantity computes exactly")
    func limitsDoNotOverflow() throws {
        let top = try UsagePrice.validated(
            metric: "m",
            model: .graduated(tiers: [
                PriceTier(
                    upTo: dec("999999999.999999999"), unitPrice: dec("999999999.999999999"),
                    flatAmount: dec("999999999.999999999")),
                PriceTier(upTo: nil, unitPrice: dec("0.000000001"), flatAmount: dec("999999999.999999999")),
            ])
        ).get()
        let quantity = dec("999999999999.999999")
        let exact = top.price(of: quantity)
        // With a = 10^9 − 10^-9 and q = 10^12 − 10^-6: a² + a (flat) + a (second flat) +
        // (q − a) × 10^-9 = (10^18 − 2 + 10^-18) + (2×10^9 − 2×10^-9) + 999.000000000000000001
        // = 1000000002000000997.0000…, to paise 1000000002000000997.00.
        let expected =
            dec("999999999.999999999") * dec("999999999.999999999") + dec("999999999.999999999") * 2
            + (quantity - dec("999999999.999999999")) * dec("0.000000001")
        #expect(exact == expected)
        #expect(Money.rounding(exact, in: inr).decimalText == "1000000002000000997.00")
    }

    @Test(
        "Cancelling before the start is invalid_message even under a deadline; with contracts off, contracts_disabled")
    func cancellationChecks() {
        let contract = workedExampleContract(
            terms: ContractTerms(termMonths: 12, cancellationDeadlineMonths: 6))
        #expect(contract.cancelled(effective: date("2025-01-01"), tenant: tenant()).rejection?.code == .invalidMessage)
        #expect(
            contract.cancelled(effective: date("2025-09-01"), tenant: tenant(contracts: false)).rejection?.code
                == .contractsDisabled)
    }

    @Test("A plan change needs an active platform license")
    func planChangeLicense() {
        let change = workedExampleContract().changingPlan(
            to: plan("p2"), effective: date("2025-03-01"), tenant: tenant(license: .inactive), newContractId: "c-2")
        #expect(change.rejection?.code == .platformLicenseRequired)
    }
}
