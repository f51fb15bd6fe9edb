extension Contract {
    /// The contract that follows this one at its term end, or `nil` when it expires (its
    /// policy is `expire`, or it was cancelled or replaced before the end).
    ///
    /// `auto_renew` keeps the term, fee, discount and every policy. `renew_to` signs the given
    /// terms on `plan` (the service's plan at renewal): the fee is the terms' own, or the plan's
    /// list fee less its term discount at that time.
    /// A renewal that would end after 9999-12-31 does not happen: dates stay within the years
    /// `YYYY-MM-DD` carries.
    public func renewal(plan: Plan, tenant: Tenant, newContractId: String) -> Result<Contract?, Rejection> {
        guard closing == nil else { return .success(nil) }
        let nextTermMonths: Int
        switch terms.renewal {
        case .expire: nextTermMonths = 0
        case .autoRenew: nextTermMonths = terms.termMonths
        case .renewTo(let next): nextTermMonths = next.termMonths
        }
        guard termEnd.adding(months: nextTermMonths).isWithinTextYears else { return .success(nil) }
        switch terms.renewal {
        case .expire:
            return .success(nil)
        case .autoRenew:
            var terms = self.terms
            terms.monthlyFee = monthlyFee.amount
            return .success(
                Contract(
                    id: newContractId, customerId: customerId, serviceId: serviceId,
                    planId: planId, planName: planName, monthlyFee: monthlyFee, terms: terms,
                    start: termEnd))
        case .renewTo(let next):
            return Contract.signChecked(
                id: newContractId, customerId: customerId, serviceId: serviceId, plan: plan,
                tenant: tenant, start: termEnd, terms: next
            ).map { Optional($0) }
        }
    }

}
