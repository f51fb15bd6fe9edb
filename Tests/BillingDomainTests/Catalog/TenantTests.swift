import BillingDomain
import Testing

@Suite("Tenant settings and catalog rules")
struct TenantTests {
    @Test(
        "Standard terms are always offered; four months only with tri_annual", arguments: [1, 3, 6, 12, 24, 36, 48, 60])
    func standardTerms(_ months: Int) {
        #expect(tenant().checkTerm(months) == nil)
    }

    @Test("Other terms are rejected with unsupported_term", arguments: [0, 2, 5, 7, 18, 59, 61, 120, -12])
    func unsupportedTerms(_ months: Int) {
        #expect(tenant().checkTerm(months)?.code == .unsupportedTerm)
        #expect(tenant(optionalTerms: [.triAnnual]).checkTerm(months)?.code == .unsupportedTerm)
    }

    @Test("Tri-annual (4 months) needs the tenant's tri_annual option")
    func triAnnual() {
        #expect(tenant().checkTerm(4)?.code == .unsupportedTerm)
        #expect(tenant(optionalTerms: [.triAnnual]).checkTerm(4) == nil)
        #expect(tenant(optionalTerms: [.biAnnual]).checkTerm(4)?.code == .unsupportedTerm)
    }

    struct GateCase: Sendable {
        let contracts: Bool
        let license: PlatformLicense.Status
        let payment: PaymentMode
        let expected: RejectionCode?
    }

    @Test(
        "Contracts need the switch on, an active platform license and a non-prepaid payment mode",
        arguments: [
            GateCase(contracts: true, license: .active, payment: .postpaid, expected: nil),
            GateCase(contracts: true, license: .active, payment: .manual, expected: nil),
            GateCase(contracts: true, license: .active, payment: .prepaid, expected: .prepaidNotSupported),
            GateCase(contracts: false, license: .active, payment: .postpaid, expected: .contractsDisabled),
            GateCase(contracts: true, license: .inactive, payment: .postpaid, expected: .platformLicenseRequired),
            GateCase(contracts: false, license: .inactive, payment: .prepaid, expected: .contractsDisabled),
        ])
    func contractGate(_ example: GateCase) {
        let tenant = tenant(contracts: example.contracts, license: example.license)
        #expect(tenant.checkMayContract(paymentMode: example.payment)?.code == example.expected)
    }
}

@Suite("Plans")
struct PlanTests {
    @Test("The contracted fee is the list fee less the term discount, rounded half up")
    func contractedFee() {
        let plan = plan(fee: "1000.00", termDiscounts: [12: "5", 36: "15", 24: "12.345"])
        #expect(plan.contractedFee(termMonths: 12) == money("950.00"))
        #expect(plan.contractedFee(termMonths: 36) == money("850.00"))
        // 1000 × (1 − 0.12345) = 876.55 exactly.
        #expect(plan.contractedFee(termMonths: 24) == money("876.55"))
        // No discount for 6 months: the list fee.
        #expect(plan.contractedFee(termMonths: 6) == money("1000.00"))
        // 999.99 × 0.95 = 949.9905 → 949.99; JPY 999 × 0.95 = 949.05 → 949.
        #expect(self.plan(fee: "999.99", termDiscounts: [12: "5"]).contractedFee(termMonths: 12) == money("949.99"))
        #expect(
            self.plan(fee: "999", currency: jpy, termDiscounts: [12: "5"]).contractedFee(termMonths: 12)
                == money("949", jpy))
    }

    private func plan(fee: String, currency: Currency = inr, termDiscounts: [Int: String]) -> Plan {
        BillingDomainTests.plan(fee: fee, currency: currency, termDiscounts: termDiscounts)
    }

    @Test("Invalid plans are rejected with invalid_message")
    func invalidPlans() {
        let negative = Plan.validated(id: "p", name: "P", currency: inr, monthlyFee: money("-1.00"), serviceType: "vm")
        #expect(negative.rejection?.code == .invalidMessage)
        let wrongCurrency = Plan.validated(
            id: "p", name: "P", currency: usd, monthlyFee: money("1.00"), serviceType: "vm")
        #expect(wrongCurrency.rejection?.code == .invalidMessage)
        let discount = Plan.validated(
            id: "p", name: "P", currency: inr, monthlyFee: money("1.00"), serviceType: "vm",
            termDiscounts: [12: dec("101")])
        #expect(discount.rejection?.code == .invalidMessage)
        let price = try! UsagePrice.validated(metric: "gb", model: .perUnit(unitPrice: dec("1"))).get()
        let twice = Plan.validated(
            id: "p", name: "P", currency: inr, monthlyFee: money("1.00"), serviceType: "vm",
            usagePrices: [price, price])
        #expect(twice.rejection?.code == .invalidMessage)
    }
}

extension Result where Failure == Rejection {
    var rejection: Rejection? {
        if case .failure(let rejection) = self { return rejection }
        return nil
    }
}
