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
        switch terms.renewal {
        case .expire:
            return .success(nil)
        case .autoRenew:
            guard endsWithinTextYears(renewedFor: terms.termMonths) else { return .success(nil) }
            var terms = self.terms
            terms.monthlyFee = monthlyFee.amount
            return .success(
                Contract(
                    id: newContractId, customerId: customerId, serviceId: serviceId,
                    planId: planId, planName: planName, monthlyFee: monthlyFee, terms: terms,
                    start: termEnd))
        case .renewTo(let next):
            guard endsWithinTextYears(renewedFor: next.termMonths) else { return .success(nil) }
            return Contract.signChecked(
                id: newContractId, customerId: customerId, serviceId: serviceId, plan: plan,
                tenant: tenant, start: termEnd, terms: next
            ).map { Optional($0) }
        }
    }

    /// Whether a renewal for `months` would end within the years `YYYY-MM-DD` carries.
    private func endsWithinTextYears(renewedFor months: Int) -> Bool {
        termEnd.adding(months: months).isWithinTextYears
    }
}
