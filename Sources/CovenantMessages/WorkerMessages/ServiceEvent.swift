public import BillingDomain

/// One of provisioning's events of a service's record (`service.*`, `contract.*`), as the
/// workers that follow the record (rating, invoicing) read it: the public payload of
/// ``EventPayloads`` and what Covenant's workers add to it, whose service it is, the revision of
/// the record the event leaves (invoicing applies them in that order), and the contracts whole.
public struct ServiceEvent: Sendable, Hashable {
    public enum Change: Sendable, Hashable {
        /// A PAYG or fixed-term service provisioned, on `plan`.
        case activated(Activation)
        /// A PAYG service moved to another plan.
        case planChanged(planId: String, effective: CalendarDate)
        /// A PAYG service ended.
        case cancelled(effective: CalendarDate)
        case contractActivated(Contract)
        case contractPlanChanged(ContractPlanChange)
        case contractCancelled(ContractCancellation)
        case contractRenewed(oldContractId: String, new: Contract)
        case contractExpired(contractId: String, endDate: CalendarDate)
    }

    public struct Activation: Sendable, Hashable {
        public var planId: String
        public var planName: String
        public var currency: Currency
        public var serviceType: String
        public var billingModel: BillingModel
        public var startDate: CalendarDate

        public init(
            planId: String, planName: String, currency: Currency, serviceType: String, billingModel: BillingModel,
            startDate: CalendarDate
        ) {
            self.planId = planId
            self.planName = planName
            self.currency = currency
            self.serviceType = serviceType
            self.billingModel = billingModel
            self.startDate = startDate
        }
    }

    public var customerId: String
    public var serviceId: String
    public var revision: Int64
    public var change: Change

    public init(customerId: String, serviceId: String, revision: Int64, change: Change) {
        self.customerId = customerId
        self.serviceId = serviceId
        self.revision = revision
        self.change = change
    }

    /// The types, each named here once.
    public static let activated = "service.activated"
    public static let planChanged = "service.plan_changed"
    public static let cancelled = "service.cancelled"
    public static let contractActivated = "contract.activated"
    public static let contractPlanChanged = "contract.plan_changed"
    public static let contractCancelled = "contract.cancelled"
    public static let contractRenewed = "contract.renewed"
    public static let contractExpired = "contract.expired"

    public var type: String {
        switch change {
        case .activated: Self.activated
        case .planChanged: Self.planChanged
        case .cancelled: Self.cancelled
        case .contractActivated: Self.contractActivated
        case .contractPlanChanged: Self.contractPlanChanged
        case .contractCancelled: Self.contractCancelled
        case .contractRenewed: Self.contractRenewed
        case .contractExpired: Self.contractExpired
        }
    }

    public var data: JSONValue {
        let service: JSONObject = [
            "customer_id": .string(customerId), "service_id": .string(serviceId),
            "revision": .number(String(revision)),
        ]
        return changeData.adding(service)
    }

    private var changeData: JSONValue {
        switch change {
        case .activated(let activation):
            .object([
                "plan_id": .string(activation.planId), "plan_name": .string(activation.planName),
                "currency": .string(activation.currency.code), "service_type": .string(activation.serviceType),
                "billing_model": .string(activation.billingModel.rawValue),
                "start_date": .string(activation.startDate.description),
            ])
        case .planChanged(let planId, let effective):
            .object(["plan_id": .string(planId), "effective_date": .string(effective.description)])
        case .cancelled(let effective):
            .object(["effective_date": .string(effective.description)])
        case .contractActivated(let contract):
            EventPayloads.contractActivated(contract).adding(["contract": ContractEncoding.contract(contract)])
        case .contractPlanChanged(let change):
            EventPayloads.contractPlanChanged(change).adding([
                "old_contract": ContractEncoding.contract(change.endedContract),
                "new_contract": ContractEncoding.contract(change.newContract),
            ])
        case .contractCancelled(let cancellation):
            EventPayloads.contractCancelled(cancellation).adding(Self.cancellationData(cancellation))
        case .contractRenewed(let oldContractId, let new):
            EventPayloads.contractRenewed(oldContractId: oldContractId, new: new).adding([
                "contract": ContractEncoding.contract(new)
            ])
        case .contractExpired(let contractId, let endDate):
            EventPayloads.contractExpired(contractId: contractId, endDate: endDate)
        }
    }

    private static func cancellationData(_ cancellation: ContractCancellation) -> JSONObject {
        var fields: JSONObject = ["contract": ContractEncoding.contract(cancellation.contract)]
        if let fee = cancellation.earlyTerminationFee {
            fields["early_termination"] = .object([
                "service_id": .string(fee.serviceId), "amount": .money(fee.amount),
                "period": .object([
                    "start": .string(fee.period.start.description), "end": .string(fee.period.end.description),
                ]),
            ])
        }
        return fields
    }
}

extension ServiceEvent {
    /// The event of `type` whose `data` a worker took from the events exchange.
    public init(type: String, _ data: Fields) throws(Rejection) {
        customerId = try data.string("customer_id")
        serviceId = try data.string("service_id")
        revision = Int64(try data.int("revision", in: 1...Int(Int32.max)))
        change = try Self.change(type, data)
    }

    public init(decoding event: CloudEvent) throws(Rejection) {
        try self.init(type: event.type, Fields(event.data, path: "data"))
    }

    private static func change(_ type: String, _ data: Fields) throws(Rejection) -> Change {
        func contract(_ field: String) throws(Rejection) -> Contract {
            try ContractEncoding.decodeContract(data.members[field] ?? .null)
        }
        switch type {
        case activated:
            return .activated(
                Activation(
                    planId: try data.string("plan_id"), planName: try data.string("plan_name"),
                    currency: try data.currency("currency"), serviceType: try data.string("service_type"),
                    billingModel: try data.choice("billing_model", of: BillingModel.self),
                    startDate: try data.date("start_date")))
        case planChanged:
            return .planChanged(planId: try data.string("plan_id"), effective: try data.date("effective_date"))
        case cancelled:
            return .cancelled(effective: try data.date("effective_date"))
        case contractActivated:
            return .contractActivated(try contract("contract"))
        case contractPlanChanged:
            return .contractPlanChanged(
                ContractPlanChange(
                    endedContract: try contract("old_contract"), newContract: try contract("new_contract")))
        case contractCancelled:
            let cancelled = try contract("contract")
            var fee: EarlyTerminationFee?
            if let item = try data.optionalObject("early_termination") {
                let period = try item.object("period")
                fee = EarlyTerminationFee(
                    contractId: cancelled.id, serviceId: try item.string("service_id"),
                    period: BillingPeriod(start: try period.date("start"), end: try period.date("end")),
                    amount: Money.rounding(try item.decimal("amount"), in: cancelled.currency))
            }
            return .contractCancelled(ContractCancellation(contract: cancelled, earlyTerminationFee: fee))
        case contractRenewed:
            return .contractRenewed(oldContractId: try data.string("old_contract_id"), new: try contract("contract"))
        case contractExpired:
            return .contractExpired(contractId: try data.string("contract_id"), endDate: try data.date("end_date"))
        default:
            throw Rejection(.unknownType, "\(type) is not an event of a service")
        }
    }
}
