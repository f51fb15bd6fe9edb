public import BillingDomain
public import CovenantMessages

/// A service record as provisioning stores it.
extension ServiceRecord {
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
        var contracts: [Contract] = []
        for item in try fields.array("contracts") { contracts.append(try ContractEncoding.decodeContract(item)) }
        self.init(
            customerId: try fields.string("customer_id"), serviceId: try fields.string("service_id"),
            planId: try fields.string("plan_id"),
            billingModel: try fields.choice("billing_model", of: BillingModel.self),
            paymentMode: try fields.choice("payment_mode", of: PaymentMode.self),
            startDate: try fields.date("start_date"),
            endDate: fields.has("end_date") ? try fields.date("end_date") : nil,
            contracts: contracts, closedThrough: fields.has("closed_through") ? try fields.date("closed_through") : nil)
    }
}
