import BillingDomain

/// The `contract` object of `service.provision` and `service.change_plan`, and its
/// commitments, into domain terms.
enum ContractDecoding {
    static let termRange = 0...600

    static func terms(_ contract: Fields) throws(Rejection) -> ContractTerms {
        var terms = ContractTerms(termMonths: try contract.int("term_months", in: termRange))
        let overrides = try overrides(contract)
        terms.monthlyFee = overrides.monthlyFee
        terms.discountPercent = overrides.discountPercent ?? .zero
        terms.cancellationDeadlineMonths = overrides.cancellationDeadlineMonths ?? 0
        terms.renewal = overrides.renewal ?? .expire
        terms.earlyTermination = overrides.earlyTermination
        terms.chargeToServiceId = overrides.chargeToServiceId
        terms.commitments = overrides.commitments ?? []
        return terms
    }

    /// Every field optional (a plan change's overrides; `terms` requires `term_months`).
    static func overrides(_ contract: Fields) throws(Rejection) -> ContractTermsOverrides {
        var overrides = ContractTermsOverrides()
        overrides.termMonths = try contract.optionalInt("term_months", in: termRange)
        overrides.monthlyFee = try contract.optionalDecimal("monthly_fee")
        overrides.discountPercent = try contract.optionalDecimal("discount_percent")
        overrides.cancellationDeadlineMonths = try contract.optionalInt("cancellation_deadline_months", in: 0...600)
        if let renewal = try contract.optionalObject("renewal") {
            switch try renewal.string("policy") {
            case "expire": overrides.renewal = .expire
            case "auto_renew": overrides.renewal = .autoRenew
            case "renew_to": overrides.renewal = .renewTo(try terms(try renewal.object("contract")))
            case let other:
                throw Rejection(
                    .invalidMessage, "\(renewal.path).policy must be expire, auto_renew or renew_to, not \(other)")
            }
        }
        if let early = try contract.optionalObject("early_termination") {
            switch try early.string("kind") {
            case "remainder": overrides.earlyTermination = .remainder
            case "flat_fee": overrides.earlyTermination = .flatFee(try early.decimal("amount"))
            case "percent_of_remaining_commitments":
                overrides.earlyTermination = .percentOfRemainingCommitments(try early.decimal("percent"))
            case let other:
                throw Rejection(
                    .invalidMessage,
                    "\(early.path).kind must be remainder, flat_fee or percent_of_remaining_commitments, not \(other)")
            }
        }
        overrides.chargeToServiceId = try contract.optionalString("charge_to_service_id")
        if contract.has("commitments") {
            var commitments: [Commitment] = []
            for item in try contract.objects("commitments") { commitments.append(try commitment(item)) }
            overrides.commitments = commitments
        }
        return overrides
    }

    static func commitment(_ item: Fields) throws(Rejection) -> Commitment {
        func invalid(_ message: String) -> Rejection { Rejection(.invalidCommitment, "\(item.path): \(message)") }
        let id = try item.string("id")
        let measure: Commitment.Measure
        switch try item.string("type") {
        case "service": measure = .service(serviceType: try item.string("service_type"))
        case "package_service":
            measure = .packageService(
                planId: try item.string("plan_id"), serviceType: try item.optionalString("service_type"))
        case "package": measure = .package(planId: try item.string("plan_id"))
        case "usage": measure = .usage(metric: try item.string("metric"))
        case "invoice_amount": measure = .invoiceAmount
        case "average_usage":
            measure = .averageUsage(metric: try item.string("metric"), serviceIds: try item.strings("service_ids"))
        case let other: throw invalid("unknown commitment type \(other)")
        }
        var ramp: [Commitment.RampStep] = []
        for step in try item.objects("ramp") {
            ramp.append(
                Commitment.RampStep(
                    fromWindow: try step.int("from_window", in: 1...600), amount: try step.decimal("amount")))
        }
        let penaltyFields = try item.object("penalty")
        let penalty: Commitment.Penalty
        switch try penaltyFields.string("kind") {
        case "charge": penalty = .charge
        case "count": penalty = .count(unitPrice: try penaltyFields.decimal("unit_price"))
        case "flat": penalty = .flat(amount: try penaltyFields.decimal("amount"))
        case "tiered":
            var tiers: [PriceTier] = []
            for tier in try penaltyFields.objects("tiers") {
                tiers.append(
                    PriceTier(upTo: try tier.optionalDecimal("up_to"), unitPrice: try tier.decimal("unit_price")))
            }
            penalty = .tiered(tiers: tiers)
        case let other: throw invalid("unknown penalty kind \(other)")
        }
        return try Commitment.validated(
            id: id, measure: measure, frequencyMonths: try item.int("frequency_months", in: 1...600),
            periodMonths: try item.optionalInt("period_months", in: 1...600), ramp: ramp, penalty: penalty
        ).get()
    }
}

/// `plan.upsert` data into a validated plan.
enum PlanDecoding {
    static func plan(_ data: Fields) throws(Rejection) -> Plan {
        let code = try data.string("currency")
        guard let currency = Currency(code: code) else {
            throw Rejection(.invalidMessage, "data.currency \(code) is not an ISO 4217 currency")
        }
        let feeText = try data.decimal("monthly_fee")
        let fee = Money.rounding(feeText, in: currency)
        guard fee.amount == feeText else {
            throw Rejection(.invalidMessage, "data.monthly_fee has more decimals than \(code) allows")
        }
        var termDiscounts: [Int: Rational] = [:]
        if let discounts = try data.optionalObject("term_discounts") {
            for (term, _) in discounts.members {
                guard let months = Int(term) else {
                    throw Rejection(.invalidMessage, "data.term_discounts keys must be term lengths in months")
                }
                termDiscounts[months] = try discounts.decimal(term)
            }
        }
        var capacity: [String: String] = [:]
        if let fields = try data.optionalObject("capacity") {
            for (key, value) in fields.members {
                switch value {
                case .string(let text), .number(let text): capacity[key] = text
                case .bool(let flag): capacity[key] = flag ? "true" : "false"
                default: throw Rejection(.invalidMessage, "data.capacity.\(key) must be a string, number or boolean")
                }
            }
        }
        var prices: [UsagePrice] = []
        let items = try data.has("usage_prices") ? data.objects("usage_prices") : []
        guard items.count <= InputLimits.usagePricesPerPlan else {
            throw Rejection(
                .invalidMessage,
                "data.usage_prices: a plan has at most \(InputLimits.usagePricesPerPlan) usage prices, not \(items.count)"
            )
        }
        for item in items {
            prices.append(try usagePrice(item))
        }
        return try Plan.validated(
            id: try data.string("plan_id"), name: try data.string("name"), currency: currency, monthlyFee: fee,
            serviceType: try data.string("service_type"), bundle: try data.has("bundle") ? data.strings("bundle") : [],
            capacity: capacity, termDiscounts: termDiscounts, usagePrices: prices
        ).get()
    }

    static func usagePrice(_ item: Fields) throws(Rejection) -> UsagePrice {
        let metric = try item.string("metric")
        let model: PricingModel
        switch try item.string("model") {
        case "per_unit": model = .perUnit(unitPrice: try item.decimal("unit_price"))
        case "package":
            model = .package(packageSize: try item.decimal("package_size"), unitPrice: try item.decimal("unit_price"))
        case "graduated": model = .graduated(tiers: try tiers(item))
        case "volume": model = .volume(tiers: try tiers(item))
        case let other:
            throw Rejection(
                .invalidMessage, "\(item.path).model must be per_unit, graduated, volume or package, not \(other)")
        }
        // Usage is summed; a plan asking for another aggregation would be billed wrong without a
        // word, so it is refused until that aggregation is built.
        if let aggregation = try item.optionalString("aggregation"), aggregation != "sum" {
            throw Rejection(
                .invalidMessage, "\(item.path).aggregation \(aggregation) is not supported yet: usage is summed")
        }
        if item.has("unique_key") {
            throw Rejection(.invalidMessage, "\(item.path).unique_key is not supported yet: usage is summed")
        }
        return try UsagePrice.validated(metric: metric, model: model).get()
    }

    static func tiers(_ item: Fields) throws(Rejection) -> [PriceTier] {
        var tiers: [PriceTier] = []
        for tier in try item.objects("tiers") {
            tiers.append(
                PriceTier(
                    upTo: try tier.optionalDecimal("up_to"), unitPrice: try tier.decimal("unit_price"),
                    flatAmount: try tier.optionalDecimal("flat_amount") ?? .zero))
        }
        return tiers
    }
}
