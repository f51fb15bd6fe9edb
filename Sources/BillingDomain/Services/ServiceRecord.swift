/// A provisioned service as provisioning keeps it: who it belongs to, how it is billed, and its
/// contracts in order (the last is the current one).
public struct ServiceRecord: Sendable, Hashable {
    public var customerId: String
    public var serviceId: String
    public var planId: String
    public var billingModel: BillingModel
    public var paymentMode: PaymentMode
    public var startDate: CalendarDate
    /// The day billing stopped: a PAYG service's cancellation, or the end of a contract that
    /// expired.
    public var endDate: CalendarDate?
    public var contracts: [Contract]
    /// The cutoff of the latest billing run that closed this service's period: every day
    /// before it is invoiced, so no plan change or cancellation may be dated before it.
    public var closedThrough: CalendarDate?

    public var currentContract: Contract? { contracts.last }

    /// Whether the service still runs: a PAYG service until cancelled, a fixed-term one while
    /// its current contract has not been closed.
    public var isActive: Bool {
        switch billingModel {
        case .payg: endDate == nil
        case .fixedTerm: endDate == nil && currentContract?.closing == nil
        }
    }

    public init(
        customerId: String, serviceId: String, planId: String, billingModel: BillingModel, paymentMode: PaymentMode,
        startDate: CalendarDate, endDate: CalendarDate? = nil, contracts: [Contract] = [],
        closedThrough: CalendarDate? = nil
    ) {
        self.customerId = customerId
        self.serviceId = serviceId
        self.planId = planId
        self.billingModel = billingModel
        self.paymentMode = paymentMode
        self.startDate = startDate
        self.endDate = endDate
        self.contracts = contracts
        self.closedThrough = closedThrough
    }

    /// Whether a change dated `date` would reach into days a billing run already invoiced.
    public func checkNotInvoiced(_ date: CalendarDate) -> Rejection? {
        guard let closedThrough, date < closedThrough else { return nil }
        return Rejection(
            .periodAlreadyInvoiced,
            "\(date) is inside days already invoiced: a billing run closed \(serviceId) through \(closedThrough)")
    }
}
