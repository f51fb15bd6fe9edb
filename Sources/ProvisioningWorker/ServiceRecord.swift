public import BillingDomain
public import CovenantMessages

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
        startDate: CalendarDate, endDate: CalendarDate? = nil, contracts: [Contract] = []
    ) {
        self.customerId = customerId
        self.serviceId = serviceId
        self.planId = planId
        self.billingModel = billingModel
        self.paymentMode = paymentMode
        self.startDate = startDate
        self.endDate = endDate
        self.contracts = contracts
    }

    /// Whether a change dated `date` would reach into days a billing run already invoiced.
    public func checkNotInvoiced(_ date: CalendarDate) -> Rejection? {
        guard let closedThrough, date < closedThrough else { return nil }
        return Rejection(
            .periodAlreadyInvoiced,
            "\(date) is inside days already invoiced: a billing run closed \(serviceId) through \(closedThrough)")
    }

    public var json: JSONValue {
        var fields: JSONObject = [
            "customer_id": .string(customerId), "service_id": .string(serviceId), "plan_id": .string(planId),
            "billing_model": .string(billingModel.rawValue), "payment_mode": .string(paymentMode.rawValue),
            "start_date": .string(startDate.description), "contracts": .array(contracts.map(ContractEncoding.contract)),
        ]
        if let endDate { fields["end_date"] = .string(endDate.description) }
        if let closedThrough { fields["closed_through"] = .string(closedThrough.description) }
        return .object(fields)
    }

    public init(json: JSONValue) throws(Rejection) {
        let fields = try Fields(json, path: "service")
        customerId = try fields.string("customer_id")
        serviceId = try fields.string("service_id")
        planId = try fields.string("plan_id")
        billingModel = try fields.choice("billing_model", of: BillingModel.self)
        paymentMode = try fields.choice("payment_mode", of: PaymentMode.self)
        startDate = try fields.date("start_date")
        endDate = fields.has("end_date") ? try fields.date("end_date") : nil
        closedThrough = fields.has("closed_through") ? try fields.date("closed_through") : nil
        var contracts: [Contract] = []
        for item in try fields.array("contracts") { contracts.append(try ContractEncoding.decodeContract(item)) }
        self.contracts = contracts
    }
}
