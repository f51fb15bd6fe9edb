extension Contract {
    /// Signs a contract for a service on `plan` from `start`, after every rule of the tenant
    /// and the terms is checked. The fee is the terms' `monthlyFee`, or the plan's list fee
    /// less its term discount; either way it is fixed from here on.
    public static func sign(
        id: String, customerId: String, serviceId: String, plan: Plan, tenant: Tenant,
        paymentMode: PaymentMode, start: CalendarDate, terms: ContractTerms
    ) -> Result<Contract, Rejection> {
        if let rejection = tenant.checkMayContract(paymentMode: paymentMode) {
            return .failure(rejection)
        }
        return signChecked(
            id: id, customerId: customerId, serviceId: serviceId, plan: plan, tenant: tenant,
            start: start, terms: terms)
    }

    /// Signing once the tenant-level switches are known to allow it (a plan change or a
    /// renewal of an existing contract re-checks only the terms).
    static func signChecked(
        id: String, customerId: String, serviceId: String, plan: Plan, tenant: Tenant,
        start: CalendarDate, terms: ContractTerms
    ) -> Result<Contract, Rejection> {
        if let rejection = terms.problem(for: tenant) { return .failure(rejection) }
        let end = start.adding(months: terms.termMonths)
        guard end.isWithinTextYears else {
            return .failure(
                Rejection(.invalidMessage, "a \(terms.termMonths)-month term from \(start) would end after 9999-12-31"))
        }
        let fee: Money
        if let agreed = terms.monthlyFee {
            let exact = Money.rounding(agreed, in: plan.currency)
            guard exact.amount == agreed else {
                return .failure(
                    Rejection(
                        .invalidMessage,
                        "monthly_fee \(agreed) has more decimals than \(plan.currency) allows"))
            }
            fee = exact
        } else {
            fee = plan.contractedFee(termMonths: terms.termMonths)
        }
        if case .flatFee(let amount) = terms.earlyTermination,
            Money.rounding(amount, in: plan.currency).amount != amount
        {
            return .failure(
                Rejection(
                    .invalidMessage,
                    "early_termination amount \(amount) has more decimals than \(plan.currency) allows"))
        }
        return .success(
            Contract(
                id: id, customerId: customerId, serviceId: serviceId, plan: plan, monthlyFee: fee,
                terms: terms, start: start))
    }
}
