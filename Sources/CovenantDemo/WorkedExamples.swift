import BillingDomain

/// The spec's worked examples, set up through the domain exactly as a worker would.
struct WorkedExamples {
    let tenant = Tenant(
        id: "acme", name: "Acme MSP", platformLicense: PlatformLicense(kind: .virtual, status: .active),
        serviceContractsEnabled: true)
    let inr = Currency(code: "INR")!

    func plan(_ id: String, _ name: String, fee: String, usagePrices: [UsagePrice] = []) throws -> Plan {
        try Plan.validated(
            id: id, name: name, currency: inr, monthlyFee: Money(decimal: fee, currency: inr)!, serviceType: "vm",
            usagePrices: usagePrices
        ).get()
    }

    /// INR 1000.00 a month, 10 % discount, 12 months from 2025-01-15, runs on every 1st.
    func recurring() throws -> [Invoice] {
        var ledger = CustomerLedger(customerId: "cust-1")
        ledger.record(
            try contract(
                id: "ctr-1", customer: "cust-1", service: "vm-1", plan: plan("vm-std", "VM Standard", fee: "1000.00")))
        return monthlyRuns(&ledger, from: CalendarDate(year: 2025, month: 2, day: 1)!, count: 13)
    }

    /// The same contract upgraded on 2025-02-15 to a plan of INR 2000.00.
    func planChange() throws -> [Invoice] {
        var ledger = CustomerLedger(customerId: "cust-2")
        let old = try contract(
            id: "ctr-2", customer: "cust-2", service: "vm-2", plan: plan("vm-std", "VM Standard", fee: "1000.00"))
        ledger.record(old)
        var invoices = ledger.runBilling(asOf: CalendarDate(year: 2025, month: 2, day: 1)!)
        let change = try old.changingPlan(
            to: plan("vm-premium", "VM Premium", fee: "2000.00"),
            effective: CalendarDate(year: 2025, month: 2, day: 15)!,
            tenant: tenant, newContractId: "ctr-3"
        ).get()
        invoices += try ledger.invoicePlanChange(change).get()
        invoices += ledger.runBilling(asOf: CalendarDate(year: 2025, month: 3, day: 1)!)
        return invoices
    }

    /// A PAYG SIM with graduated SMS pricing, usage in January and more January usage that
    /// arrives after January was invoiced.
    func payg() throws -> [Invoice] {
        let sms = try UsagePrice.validated(
            metric: "sms",
            model: .graduated(tiers: [
                PriceTier(upTo: Rational(decimal: "100")!, unitPrice: Rational(decimal: "0.50")!),
                PriceTier(upTo: nil, unitPrice: Rational(decimal: "0.20")!),
            ])
        ).get()
        var ledger = CustomerLedger(customerId: "cust-3")
        ledger.recordUsage(
            serviceId: "sim-1", metric: "sms", quantity: Rational(80), on: CalendarDate(year: 2025, month: 1, day: 10)!,
            price: sms, currency: inr)
        var invoices = ledger.runBilling(asOf: CalendarDate(year: 2025, month: 2, day: 1)!)
        ledger.recordUsage(
            serviceId: "sim-1", metric: "sms", quantity: Rational(50), on: CalendarDate(year: 2025, month: 1, day: 28)!,
            price: sms, currency: inr)
        ledger.recordUsage(
            serviceId: "sim-1", metric: "sms", quantity: Rational(12), on: CalendarDate(year: 2025, month: 2, day: 3)!,
            price: sms, currency: inr)
        invoices += ledger.runBilling(asOf: CalendarDate(year: 2025, month: 3, day: 1)!)
        return invoices
    }

    /// The worked-example contract with a 6-month deadline and a `remainder` penalty,
    /// cancelled with effect on 2025-08-10.
    func cancellation() throws -> [Invoice] {
        var ledger = CustomerLedger(customerId: "cust-4")
        let terms = ContractTerms(
            termMonths: 12, monthlyFee: Rational(decimal: "1000.00")!, discountPercent: Rational(10),
            cancellationDeadlineMonths: 6, earlyTermination: .remainder)
        let signed = try contract(
            id: "ctr-4", customer: "cust-4", service: "vm-4", plan: plan("vm-std", "VM Standard", fee: "1000.00"),
            terms: terms)
        ledger.record(signed)
        _ = ledger.runBilling(asOf: CalendarDate(year: 2025, month: 8, day: 1)!)
        let cancellation = try signed.cancelled(effective: CalendarDate(year: 2025, month: 8, day: 10)!, tenant: tenant)
            .get()
        ledger.record(cancellation.contract)
        if let fee = cancellation.earlyTerminationFee { ledger.add(fee) }
        return ledger.runBilling(asOf: CalendarDate(year: 2025, month: 9, day: 1)!)
    }

    /// A contract whose customer committed to INR 1500 of invoices a month (a true-up
    /// `charge` penalty); a PAYG service of the same customer adds metered spend.
    func commitment() throws -> [Invoice] {
        let spend = try Commitment.validated(
            id: "spend", measure: .invoiceAmount, frequencyMonths: 1,
            ramp: [Commitment.RampStep(fromWindow: 1, amount: Rational(1500))], penalty: .charge
        ).get()
        let terms = ContractTerms(
            termMonths: 12, monthlyFee: Rational(decimal: "1000.00")!, discountPercent: Rational(10),
            commitments: [spend])
        let signed = try contract(
            id: "ctr-5", customer: "cust-5", service: "vm-5", plan: plan("vm-std", "VM Standard", fee: "1000.00"),
            terms: terms)
        var invoicing = CustomerLedger(customerId: "cust-5")
        var commitments = CommitmentLedger(customerId: "cust-5")
        invoicing.record(signed)
        commitments.record(signed)
        let gb = try UsagePrice.validated(metric: "gb", model: .perUnit(unitPrice: Rational(decimal: "2.50")!)).get()
        for (day, quantity) in [
            (CalendarDate(year: 2025, month: 2, day: 10)!, 240), (CalendarDate(year: 2025, month: 3, day: 3)!, 100),
        ] {
            invoicing.recordUsage(
                serviceId: "sim-5", metric: "gb", quantity: Rational(quantity), on: day, price: gb, currency: inr)
            commitments.recordUsage(serviceId: "sim-5", metric: "gb", quantity: Rational(quantity), on: day)
        }
        return (0..<3).flatMap {
            invoicing.runBilling(
                asOf: CalendarDate(year: 2025, month: 2, day: 1)!.adding(months: $0), evaluating: &commitments)
        }
    }

    private func contract(
        id: String, customer: String, service: String, plan: Plan,
        terms: ContractTerms = ContractTerms(
            termMonths: 12, monthlyFee: Rational(decimal: "1000.00")!, discountPercent: Rational(10))
    ) throws -> Contract {
        try Contract.sign(
            id: id, customerId: customer, serviceId: service, plan: plan, tenant: tenant, paymentMode: .postpaid,
            start: CalendarDate(year: 2025, month: 1, day: 15)!, terms: terms
        ).get()
    }

    private func monthlyRuns(_ ledger: inout CustomerLedger, from first: CalendarDate, count: Int) -> [Invoice] {
        (0..<count).flatMap { ledger.runBilling(asOf: first.adding(months: $0)) }
    }
}
