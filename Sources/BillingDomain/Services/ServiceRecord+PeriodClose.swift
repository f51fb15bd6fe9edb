/// What a billing run does to a service's record.
extension ServiceRecord {
    /// A change a run makes to a service's contracts, in the order made.
    public enum PeriodChange: Sendable, Hashable {
        /// The contract ended at its term end and `new` follows it.
        case renewed(old: Contract, new: Contract)
        /// The contract ended at its term end and nothing follows it: the service ends.
        case expired(Contract)
    }

    /// The most renewals of one service a billing run makes (docs/billing.md, "Limits"): the
    /// date window bounds them to about 121 (one-month terms over ten years); the cap is the
    /// guarantee that one run's transaction stays small.
    public static let maximumRenewalsPerRun = 240

    /// The current contract, when its term ended before `asOf` and nothing closed it yet: what
    /// a billing run of that date renews or ends.
    func contractDue(asOf: CalendarDate) -> Contract? {
        guard endDate == nil, let current = currentContract, current.closing == nil, current.termEnd < asOf else {
            return nil
        }
        return current
    }

    /// Whether a billing run dated `asOf` renews the current contract, and so needs the
    /// service's plan: only then is it read (an unreadable plan of a service nothing renews
    /// holds up no run).
    public func renews(asOf: CalendarDate) -> Bool {
        contractDue(asOf: asOf).map(Self.isRenewed) ?? false
    }

    /// Whether a contract that reached its term end is followed by another (`auto_renew`,
    /// `renew_to`), which the service's plan prices, rather than ended (`expire`).
    static func isRenewed(_ contract: Contract) -> Bool {
        if case .expire = contract.terms.renewal { false } else { true }
    }

    /// The record after a billing run dated `asOf`: every contract whose term ended before the
    /// run's date renews (`auto_renew`, `renew_to` on `plan`, the service's plan, as many times
    /// as the date calls for) or expires; the days before the run's cutoff (the first of its
    /// month) are closed, so no plan change or cancellation may be dated inside them. `plan` may
    /// be nil when no renewal needs it; a renewal that does is `unknown_plan`.
    public func closingPeriod(
        asOf: CalendarDate, tenant: Tenant, plan: Plan?
    ) -> Result<(record: ServiceRecord, changes: [PeriodChange]), Rejection> {
        var record = self
        var changes: [PeriodChange] = []
        while let current = record.contractDue(asOf: asOf) {
            guard changes.count < Self.maximumRenewalsPerRun else {
                return .failure(
                    Rejection(
                        .dateOutOfRange,
                        "service \(serviceId) would renew more than \(Self.maximumRenewalsPerRun) times in one run"))
            }
            var next: Contract?  // nil: it ends, with no plan needed
            if Self.isRenewed(current) {
                guard let plan, plan.id == record.planId else {
                    return .failure(Rejection(.unknownPlan, "plan \(record.planId) does not exist"))
                }
                switch current.renewal(
                    plan: plan, tenant: tenant, newContractId: "\(record.serviceId)-\(record.contracts.count + 1)")
                {
                case .failure(let rejection): return .failure(rejection)
                case .success(let renewed): next = renewed
                }
            }
            if let next {
                record.contracts.append(next)
                changes.append(.renewed(old: current, new: next))
            } else {
                record.endDate = current.termEnd
                changes.append(.expired(current))
            }
        }
        let cutoff = asOf.startOfMonth
        if record.isActive, (record.closedThrough ?? cutoff) <= cutoff { record.closedThrough = cutoff }
        return .success((record, changes))
    }
}
