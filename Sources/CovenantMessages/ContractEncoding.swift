public import BillingDomain

/// Contract terms and contracts as the interface's JSON: the inverse of the decoding of the
/// `contract` object, used by stores to keep contracts and by events to show them.
public enum ContractEncoding {
    public static func terms(_ terms: ContractTerms) -> JSONValue {
        var fields: JSONObject = [
            "term_months": .number(String(terms.termMonths)),
            "discount_percent": .string(EventPayloads.figure(terms.discountPercent)),
            "cancellation_deadline_months": .number(String(terms.cancellationDeadlineMonths)),
            "renewal": renewal(terms.renewal),
            "commitments": .array(terms.commitments.map(commitment)),
        ]
        if let fee = terms.monthlyFee { fields["monthly_fee"] = .string(fee.exactDecimalText ?? "\(fee)") }
        if let charge = terms.chargeToServiceId { fields["charge_to_service_id"] = .string(charge) }
        switch terms.earlyTermination {
        case .none: break
        case .remainder: fields["early_termination"] = .object(["kind": .string("remainder")])
        case .flatFee(let amount):
            fields["early_termination"] = .object(["kind": .string("flat_fee"), "amount": decimal(amount)])
        case .percentOfRemainingCommitments(let percent):
            fields["early_termination"] = .object([
                "kind": .string("percent_of_remaining_commitments"), "percent": decimal(percent),
            ])
        }
        return .object(fields)
    }

    /// The terms back from their JSON (what ``terms(_:)`` wrote).
    public static func decodeTerms(_ json: JSONValue) throws(Rejection) -> ContractTerms {
        try ContractDecoding.terms(try Fields(json, path: "contract"))
    }

    static func decimal(_ value: Rational) -> JSONValue { .string(value.exactDecimalText ?? "\(value)") }

    static func renewal(_ policy: RenewalPolicy) -> JSONValue {
        switch policy {
        case .expire: .object(["policy": .string("expire")])
        case .autoRenew: .object(["policy": .string("auto_renew")])
        case .renewTo(let next): .object(["policy": .string("renew_to"), "contract": terms(next)])
        }
    }

    static func commitment(_ commitment: Commitment) -> JSONValue {
        var fields: JSONObject = [
            "id": .string(commitment.id), "type": .string(commitment.measure.typeName),
            "frequency_months": .number(String(commitment.frequencyMonths)),
            "ramp": .array(
                commitment.ramp.map {
                    .object(["from_window": .number(String($0.fromWindow)), "amount": decimal($0.amount)])
                }),
        ]
        if let months = commitment.periodMonths { fields["period_months"] = .number(String(months)) }
        switch commitment.measure {
        case .service(let type): fields["service_type"] = .string(type)
        case .packageService(let plan, let type):
            fields["plan_id"] = .string(plan)
            if let type { fields["service_type"] = .string(type) }
        case .package(let plan): fields["plan_id"] = .string(plan)
        case .usage(let metric): fields["metric"] = .string(metric)
        case .invoiceAmount: break
        case .averageUsage(let metric, let services):
            fields["metric"] = .string(metric)
            fields["service_ids"] = .array(services.map(JSONValue.string))
        }
        switch commitment.penalty {
        case .charge: fields["penalty"] = .object(["kind": .string("charge")])
        case .count(let price): fields["penalty"] = .object(["kind": .string("count"), "unit_price": decimal(price)])
        case .flat(let amount): fields["penalty"] = .object(["kind": .string("flat"), "amount": decimal(amount)])
        case .tiered(let tiers):
            fields["penalty"] = .object([
                "kind": .string("tiered"),
                "tiers": .array(
                    tiers.map {
                        .object(["up_to": $0.upTo.map(decimal) ?? .null, "unit_price": decimal($0.unitPrice)])
                    }),
            ])
        }
        return .object(fields)
    }

    /// A contract as a store keeps it.
    public static func contract(_ contract: Contract) -> JSONValue {
        var fields: JSONObject = [
            "contract_id": .string(contract.id), "customer_id": .string(contract.customerId),
            "service_id": .string(contract.serviceId), "plan_id": .string(contract.planId),
            "plan_name": .string(contract.planName), "currency": .string(contract.currency.code),
            "monthly_fee": .money(contract.monthlyFee), "start_date": .string(contract.start.description),
            "end_date": .string(contract.end.description), "terms": terms(contract.terms),
        ]
        switch contract.closing {
        case .none: break
        case .cancelled(let effective):
            fields["closing"] = .object(["kind": .string("cancelled"), "effective": .string(effective.description)])
        case .planChanged(let effective, let newContractId):
            fields["closing"] = .object([
                "kind": .string("plan_changed"), "effective": .string(effective.description),
                "new_contract_id": .string(newContractId),
            ])
        }
        return .object(fields)
    }

    /// The contract back from its stored JSON.
    public static func decodeContract(_ json: JSONValue) throws(Rejection) -> Contract {
        let fields = try Fields(json, path: "contract")
        let code = try fields.string("currency")
        guard let currency = Currency(code: code),
            let fee = Money(decimal: try fields.string("monthly_fee"), currency: currency)
        else { throw Rejection(.invalidMessage, "stored contract has an unreadable fee") }
        var closing: Contract.Closing?
        if let closingFields = try fields.optionalObject("closing") {
            let effective = try closingFields.date("effective")
            closing =
                try closingFields.string("kind") == "cancelled"
                ? .cancelled(effective: effective)
                : .planChanged(effective: effective, newContractId: try closingFields.string("new_contract_id"))
        }
        return Contract.restore(
            id: try fields.string("contract_id"), customerId: try fields.string("customer_id"),
            serviceId: try fields.string("service_id"), planId: try fields.string("plan_id"),
            planName: try fields.string("plan_name"), monthlyFee: fee,
            terms: try decodeTerms(fields.members["terms"] ?? .null),
            start: try fields.date("start_date"), end: try fields.date("end_date"), closing: closing)
    }
}
