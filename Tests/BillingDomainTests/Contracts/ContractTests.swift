import BillingDomain
import Testing

@Suite("Signing a contract")
struct ContractSigningTests {
    @Test("The fee is the command's monthly_fee when given, else the plan's fee less its term discount")
    func contractedFee() throws {
        let plan = plan(fee: "1000.00", termDiscounts: [12: "5", 36: "15"])
        let agreed = workedExampleContract(on: plan)
        #expect(agreed.monthlyFee == money("1000.00"))
        let listed = workedExampleContract(terms: ContractTerms(termMonths: 36), on: plan)
        #expect(listed.monthlyFee == money("850.00"))
        #expect(listed.termEnd == date("2028-01-15"))
    }

    @Test("The fee is fixed at signing: a later catalog change does not move it")
    func feeFixedAtSigning() {
        var catalog = plan(fee: "1000.00", termDiscounts: [12: "5"])
        let contract = workedExampleContract(terms: ContractTerms(termMonths: 12), on: catalog)
        catalog.monthlyFee = money("2000.00")
        #expect(contract.monthlyFee == money("950.00"))
        #expect(
            contract.recurringLines(within: period("2025-03-01", "2025-04-01")).map(amounts) == [
                ["950.00", "0.00", "950.00"]
            ])
    }

    struct RejectionCase: Sendable, CustomTestStringConvertible {
        let name: String
        let tenant: Tenant
        let payment: PaymentMode
        let terms: ContractTerms
        let expected: RejectionCode
        var testDescription: String { name }
    }

    @Test(
        "Each rule broken is its own rejection code",
        arguments: [
            RejectionCase(
                name: "contracts switched off", tenant: tenant(contracts: false), payment: .postpaid,
                terms: ContractTerms(termMonths: 12), expected: .contractsDisabled),
            RejectionCase(
                name: "inactive platform license", tenant: tenant(license: .inactive), payment: .postpaid,
                terms: ContractTerms(termMonths: 12), expected: .platformLicenseRequired),
            RejectionCase(
                name: "prepaid", tenant: tenant(), payment: .prepaid, terms: ContractTerms(termMonths: 12),
                expected: .prepaidNotSupported),
            RejectionCase(
                name: "18-month term", tenant: tenant(), payment: .postpaid, terms: ContractTerms(termMonths: 18),
                expected: .unsupportedTerm),
            RejectionCase(
                name: "4 months without tri_annual", tenant: tenant(), payment: .manual,
                terms: ContractTerms(termMonths: 4), expected: .unsupportedTerm),
            RejectionCase(
                name: "renew_to an unsupported term", tenant: tenant(), payment: .postpaid,
                terms: ContractTerms(termMonths: 12, renewal: .renewTo(ContractTerms(termMonths: 7))),
                expected: .unsupportedTerm),
            RejectionCase(
                name: "discount over 100 %", tenant: tenant(), payment: .postpaid,
                terms: ContractTerms(termMonths: 12, discountPercent: dec("100.5")), expected: .invalidMessage),
            RejectionCase(
                name: "deadline beyond the term", tenant: tenant(), payment: .postpaid,
                terms: ContractTerms(termMonths: 12, cancellationDeadlineMonths: 13), expected: .invalidMessage),
            RejectionCase(
                name: "fee finer than the currency", tenant: tenant(), payment: .postpaid,
                terms: ContractTerms(termMonths: 12, monthlyFee: dec("10.005")), expected: .invalidMessage),
            RejectionCase(
                name: "negative fee", tenant: tenant(), payment: .postpaid,
                terms: ContractTerms(termMonths: 12, monthlyFee: dec("-1")), expected: .invalidMessage),
            RejectionCase(
                name: "negative flat early-termination fee", tenant: tenant(), payment: .postpaid,
                terms: ContractTerms(termMonths: 12, earlyTermination: .flatFee(dec("-5"))), expected: .invalidMessage),
        ])
    func rejections(_ example: RejectionCase) {
        let result = Contract.sign(
            id: "c", customerId: "cust-1", serviceId: "vm-1", plan: plan(), tenant: example.tenant,
            paymentMode: example.payment, start: date("2025-01-15"), terms: example.terms)
        #expect(result.rejection?.code == example.expected)
    }

    @Test("A four-month term is signed when the tenant enables tri_annual")
    func triAnnual() throws {
        let contract = try Contract.sign(
            id: "c", customerId: "cust-1", serviceId: "vm-1", plan: plan(), tenant: tenant(optionalTerms: [.triAnnual]),
            paymentMode: .postpaid, start: date("2025-01-31"), terms: ContractTerms(termMonths: 4)
        ).get()
        #expect(contract.termEnd == date("2025-05-31"))
    }

    @Test("A term that would end after 9999-12-31 is refused, and a renewal that would is not made")
    func termPastTheTextYears() throws {
        func sign(_ start: String) -> Result<Contract, Rejection> {
            Contract.sign(
                id: "c", customerId: "cust-1", serviceId: "vm-1", plan: plan(), tenant: tenant(),
                paymentMode: .postpaid,
                start: date(start), terms: ContractTerms(termMonths: 12))
        }
        #expect(sign("9999-01-01").rejection?.code == .invalidMessage)
        #expect(try sign("9998-12-31").get().termEnd == date("9999-12-31"))
        // Renewing it would end in 10000: it expires instead; one a year earlier renews.
        func renewal(_ start: String) throws -> Contract? {
            let contract = try Contract.sign(
                id: "c", customerId: "cust-1", serviceId: "vm-1", plan: plan(), tenant: tenant(),
                paymentMode: .postpaid,
                start: date(start), terms: ContractTerms(termMonths: 12, renewal: .autoRenew)
            ).get()
            return try contract.renewal(plan: plan(), tenant: tenant(), newContractId: "c-2").get()
        }
        #expect(try renewal("9998-06-01") == nil)
        #expect(try renewal("9997-06-01")?.termEnd == date("9999-06-01"))
    }
}

@Suite("Cancellation and early termination")
struct ContractCancellationTests {
    let terms = ContractTerms(
        termMonths: 12, monthlyFee: dec("1000.00"), discountPercent: dec("10"), cancellationDeadlineMonths: 6,
        earlyTermination: .remainder)

    @Test("Before the deadline: cancellation_blocked, naming the earliest allowed date")
    func blocked() {
        let contract = workedExampleContract(terms: terms)
        let rejection = contract.cancelled(effective: date("2025-07-14"), tenant: tenant()).rejection
        #expect(rejection?.code == .cancellationBlocked)
        // 2025-01-15 + 6 months.
        #expect(rejection?.details["earliest_allowed_date"] == "2025-07-15")
        #expect(contract.cancelled(effective: date("2025-07-15"), tenant: tenant()).rejection == nil)
    }

    @Test("remainder: what the contract would still have billed, discount included, rounded once")
    func remainder() throws {
        let cancellation = try workedExampleContract(terms: terms).cancelled(
            effective: date("2025-08-10"), tenant: tenant()
        ).get()
        #expect(cancellation.contract.end == date("2025-08-10"))
        // Hand-checked: 22/31 × 1000 (10–31 Aug) + 4 × 1000 (Sep–Dec) + 14/31 × 1000 (1–14 Jan)
        // = 4000 + 36000/31 = 5161.2903…; less 10 % = 4645.16129… → 4645.16.
        let fee = try #require(cancellation.earlyTerminationFee)
        #expect(fee.amount == money("4645.16"))
        #expect(fee.period == period("2025-08-10", "2026-01-15"))
        #expect(fee.serviceId == "vm-1")
    }

    @Test("flat_fee: the given amount, charged to charge_to_service_id")
    func flatFee() throws {
        var terms = terms
        terms.earlyTermination = .flatFee(dec("500.00"))
        terms.chargeToServiceId = "vm-2"
        let fee = try #require(
            try workedExampleContract(terms: terms).cancelled(effective: date("2025-09-01"), tenant: tenant()).get()
                .earlyTerminationFee)
        #expect(fee.amount == money("500.00"))
        #expect(fee.serviceId == "vm-2")
    }

    @Test("No penalty when the contract has none, or when it ends at its term end")
    func noPenalty() throws {
        var plain = terms
        plain.earlyTermination = nil
        #expect(
            try workedExampleContract(terms: plain).cancelled(effective: date("2025-09-01"), tenant: tenant()).get()
                .earlyTerminationFee
                == nil)
        let atEnd = try workedExampleContract(terms: terms).cancelled(effective: date("2026-03-01"), tenant: tenant())
            .get()
        #expect(atEnd.earlyTerminationFee == nil)
        #expect(atEnd.contract.end == date("2026-01-15"))
    }

    @Test("An ended contract cannot be cancelled again")
    func twice() throws {
        let ended = try workedExampleContract(terms: terms).cancelled(effective: date("2025-08-10"), tenant: tenant())
            .get().contract
        #expect(ended.cancelled(effective: date("2025-09-10"), tenant: tenant()).rejection?.code == .invalidMessage)
    }
}

@Suite("Plan change during a contract")
struct ContractPlanChangeTests {
    @Test("The old contract ends on the change date; the new one keeps the old terms with the new plan's price")
    func keepsTerms() throws {
        let terms = ContractTerms(
            termMonths: 12, monthlyFee: dec("1000.00"), discountPercent: dec("10"), cancellationDeadlineMonths: 6,
            renewal: .autoRenew, earlyTermination: .flatFee(dec("500.00")))
        let premium = plan("vm-premium", name: "VM Premium", fee: "2200.00", termDiscounts: [12: "10"])
        let change = try workedExampleContract(terms: terms).changingPlan(
            to: premium, effective: date("2025-02-15"), tenant: tenant(), newContractId: "c-2"
        ).get()
        #expect(change.endedContract.end == date("2025-02-15"))
        let new = change.newContract
        #expect(new.start == date("2025-02-15") && new.termEnd == date("2026-02-15"))
        // 2200 less the plan's 10 % for 12 months.
        #expect(new.monthlyFee == money("1980.00"))
        #expect(new.terms.discountPercent == dec("10"))
        #expect(new.terms.cancellationDeadlineMonths == 6)
        #expect(new.terms.renewal == .autoRenew)
        #expect(new.terms.earlyTermination == .flatFee(dec("500.00")))
        #expect(new.planId == "vm-premium")
    }

    @Test("Overrides replace the kept terms")
    func overrides() throws {
        let change = try workedExampleContract().changingPlan(
            to: plan("vm-premium", fee: "2000.00"), effective: date("2025-02-15"), tenant: tenant(),
            overrides: ContractTermsOverrides(termMonths: 24, monthlyFee: dec("1800.00"), discountPercent: dec("0")),
            newContractId: "c-2"
        ).get()
        #expect(change.newContract.monthlyFee == money("1800.00"))
        #expect(change.newContract.termEnd == date("2027-02-15"))
        #expect(change.newContract.terms.discountPercent == .zero)
    }

    @Test(
        "A plan change is rejected when contracts are off, the term is unsupported, or the date is outside the contract"
    )
    func rejections() {
        let contract = workedExampleContract()
        let premium = plan("vm-premium", fee: "2000.00")
        #expect(
            contract.changingPlan(
                to: premium, effective: date("2025-02-15"), tenant: tenant(contracts: false), newContractId: "c-2"
            ).rejection?.code == .contractsDisabled)
        #expect(
            contract.changingPlan(
                to: premium, effective: date("2025-02-15"), tenant: tenant(),
                overrides: ContractTermsOverrides(termMonths: 5), newContractId: "c-2"
            ).rejection?.code == .unsupportedTerm)
        #expect(
            contract.changingPlan(to: premium, effective: date("2025-01-14"), tenant: tenant(), newContractId: "c-2")
                .rejection?.code == .invalidMessage)
        #expect(
            contract.changingPlan(to: premium, effective: date("2026-01-15"), tenant: tenant(), newContractId: "c-2")
                .rejection?.code == .invalidMessage)
    }
}

@Suite("Renewal at term end")
struct ContractRenewalTests {
    @Test("expire: nothing follows")
    func expire() throws {
        #expect(try workedExampleContract().renewal(plan: plan(), tenant: tenant(), newContractId: "c-2").get() == nil)
    }

    @Test("auto_renew: same term, fee, discount and policies from the end date")
    func autoRenew() throws {
        let terms = ContractTerms(
            termMonths: 12, discountPercent: dec("10"), renewal: .autoRenew, earlyTermination: .remainder)
        let contract = workedExampleContract(terms: terms, on: plan(fee: "1000.00", termDiscounts: [12: "5"]))
        // The catalog moved on; the renewed contract keeps the contracted 950.00.
        let renewed = try #require(
            try contract.renewal(plan: plan(fee: "1200.00"), tenant: tenant(), newContractId: "c-2").get())
        #expect(renewed.start == date("2026-01-15") && renewed.termEnd == date("2027-01-15"))
        #expect(renewed.monthlyFee == money("950.00"))
        #expect(renewed.terms.discountPercent == dec("10"))
        #expect(renewed.terms.renewal == .autoRenew)
        #expect(renewed.terms.earlyTermination == .remainder)
    }

    @Test("renew_to: the given terms, priced from the plan at renewal")
    func renewTo() throws {
        let terms = ContractTerms(
            termMonths: 36, discountPercent: dec("15"), cancellationDeadlineMonths: 12,
            renewal: .renewTo(ContractTerms(termMonths: 12)), earlyTermination: .remainder)
        let contract = workedExampleContract(
            start: "2025-01-15", terms: terms, on: plan(termDiscounts: [36: "15", 12: "5"]))
        let renewed = try #require(
            try contract.renewal(
                plan: plan(fee: "1100.00", termDiscounts: [12: "5"]), tenant: tenant(), newContractId: "c-2"
            ).get())
        #expect(renewed.start == date("2028-01-15") && renewed.termEnd == date("2029-01-15"))
        // 1100 less 5 %.
        #expect(renewed.monthlyFee == money("1045.00"))
        #expect(renewed.terms.discountPercent == .zero)
        #expect(renewed.terms.earlyTermination == nil)
        #expect(renewed.terms.renewal == .expire)
    }

    @Test("A cancelled contract does not renew")
    func cancelledDoesNotRenew() throws {
        let terms = ContractTerms(termMonths: 12, renewal: .autoRenew)
        let ended = try workedExampleContract(terms: terms).cancelled(effective: date("2025-06-01"), tenant: tenant())
            .get().contract
        #expect(try ended.renewal(plan: plan(), tenant: tenant(), newContractId: "c-2").get() == nil)
    }
}
