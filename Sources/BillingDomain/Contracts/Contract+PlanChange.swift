/// A plan change the rules accepted: the old contract ends on the change date and a new one
/// starts on it.
public struct ContractPlanChange: Sendable, Hashable {
    /// The old contract, ending on the effective date; its last days are invoiced at once.
    public let endedContract: Contract
    public let newContract: Contract
    public var effectiveDate: CalendarDate { newContract.start }

    /// A plan change as another worker learned it from `contract.plan_changed`.
    public init(endedContract: Contract, newContract: Contract) {
        self.endedContract = endedContract
        self.newContract = newContract
    }
}

extension Contract {
    /// Moves the service to `plan` from `effective`.
    ///
    /// The new contract keeps this contract's term length, discount, cancellation deadline,
    /// renewal and early-termination policies unless `overrides` gives new ones; its fee is
    /// the override's, or the new plan's list fee less its term discount. The term runs from
    /// the change date. A plan change is not an early termination: it carries no penalty.
    public func changingPlan(
        to plan: Plan, effective: CalendarDate, tenant: Tenant,
        overrides: ContractTermsOverrides = ContractTermsOverrides(), newContractId: String
    ) -> Result<ContractPlanChange, Rejection> {
        // The payment mode was accepted at provisioning; the tenant's switches are checked anew.
        if let rejection = tenant.checkMayContract(paymentMode: .postpaid) { return .failure(rejection) }
        if let closing {
            return .failure(Rejection(.invalidMessage, "contract \(id) has already ended (\(closing))"))
        }
        guard effective >= start, effective < end else {
            return .failure(
                Rejection(
                    .invalidMessage,
                    "effective_date \(effective) is outside the contract [\(start), \(end))"))
        }
        let signed = Contract.signChecked(
            id: newContractId, customerId: customerId, serviceId: serviceId, plan: plan,
            tenant: tenant, start: effective, terms: overrides.applied(to: terms))
        switch signed {
        case .failure(let rejection):
            return .failure(rejection)
        case .success(let newContract):
            var ended = self
            ended.close(at: effective, as: .planChanged(effective: effective, newContractId: newContractId))
            return .success(ContractPlanChange(endedContract: ended, newContract: newContract))
        }
    }
}
