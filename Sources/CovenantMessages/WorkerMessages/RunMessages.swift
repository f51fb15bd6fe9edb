public import BillingDomain

/// `billing.period_closed` (provisioning → invoicing): one customer's services closed through a
/// billing run's cutoff, with the state and revision of each, from which invoicing bills.
public struct BillingPeriodClosed: WorkerMessage {
    public static let type = "billing.period_closed"

    public struct Service: Sendable, Hashable {
        public var serviceId: String
        public var planId: String
        public var billingModel: BillingModel
        /// The service record's version after the run, and before it.
        public var revision: Int64
        public var previousRevision: Int64
        /// The service's contracts as encoded: decoded (``contracts()``) only by a consumer that
        /// has not applied this revision yet.
        let encodedContracts: [JSONValue]

        public init(
            serviceId: String, planId: String, billingModel: BillingModel, revision: Int64, previousRevision: Int64,
            contracts: [Contract]
        ) {
            self.serviceId = serviceId
            self.planId = planId
            self.billingModel = billingModel
            self.revision = revision
            self.previousRevision = previousRevision
            self.encodedContracts = contracts.map(ContractEncoding.contract)
        }

        public func contracts() throws(Rejection) -> [Contract] {
            try encodedContracts.map { item throws(Rejection) in try ContractEncoding.decodeContract(item) }
        }

        var data: JSONValue {
            .object([
                "service_id": .string(serviceId), "plan_id": .string(planId),
                "billing_model": .string(billingModel.rawValue), "revision": .number(String(revision)),
                "previous_revision": .number(String(previousRevision)), "contracts": .array(encodedContracts),
            ])
        }

        init(_ fields: Fields) throws(Rejection) {
            serviceId = try fields.string("service_id")
            planId = try fields.string("plan_id")
            billingModel = try fields.choice("billing_model", of: BillingModel.self)
            revision = Int64(try fields.int("revision", in: 0...Int(Int32.max)))
            previousRevision = Int64(try fields.int("previous_revision", in: 0...Int(Int32.max)))
            encodedContracts = try fields.array("contracts")
        }
    }

    public var runId: String
    public var asOf: CalendarDate
    public var customerId: String
    /// The run's customers in all.
    public var customers: Int
    public var services: [Service]

    public init(runId: String, asOf: CalendarDate, customerId: String, customers: Int, services: [Service]) {
        self.runId = runId
        self.asOf = asOf
        self.customerId = customerId
        self.customers = customers
        self.services = services
    }

    public var data: JSONValue {
        .object([
            "run_id": .string(runId), "as_of": .string(asOf.description), "customer_id": .string(customerId),
            "customers": .number(String(customers)), "services": .array(services.map(\.data)),
        ])
    }

    public init(_ data: Fields) throws(Rejection) {
        runId = try data.string("run_id")
        asOf = try data.date("as_of")
        customerId = try data.string("customer_id")
        customers = try data.int("customers", in: 1...Int(Int32.max))
        services = try data.objects("services").map { item throws(Rejection) in try Service(item) }
    }
}

/// `invoice.drafted` (invoicing → commitments): a customer's draft of a run, with what its
/// commitments measure: contracts, service spans and the lines that count toward them.
public struct InvoiceDrafted: WorkerMessage {
    public static let type = "invoice.drafted"

    public var runId: String
    public var asOf: CalendarDate
    public var customerId: String
    /// The run closes the windows that end by it.
    public var cutoff: CalendarDate
    public var contracts: [Contract]
    public var services: [String: [CommitmentLedger.ServiceSpan]]
    public var lines: [CommitmentLedger.CountedLine]

    public init(
        runId: String, asOf: CalendarDate, customerId: String, cutoff: CalendarDate, contracts: [Contract],
        services: [String: [CommitmentLedger.ServiceSpan]], lines: [CommitmentLedger.CountedLine]
    ) {
        self.runId = runId
        self.asOf = asOf
        self.customerId = customerId
        self.cutoff = cutoff
        self.contracts = contracts
        self.services = services
        self.lines = lines
    }

    public var data: JSONValue {
        .object([
            "run_id": .string(runId), "as_of": .string(asOf.description), "customer_id": .string(customerId),
            "cutoff": .string(cutoff.description), "contracts": .array(contracts.map(ContractEncoding.contract)),
            "services": CommitmentCoding.spans(services), "lines": .array(lines.map(CommitmentCoding.counted)),
        ])
    }

    public init(_ data: Fields) throws(Rejection) {
        runId = try data.string("run_id")
        asOf = try data.date("as_of")
        customerId = try data.string("customer_id")
        cutoff = try data.date("cutoff")
        contracts = try data.array("contracts").map { item throws(Rejection) in
            try ContractEncoding.decodeContract(item)
        }
        services = try CommitmentCoding.decodeSpans(try data.object("services"))
        lines = try data.objects("lines").map { item throws(Rejection) in try CommitmentCoding.decodeCounted(item) }
    }
}

/// `commitments.evaluated` (commitments → invoicing): the windows a customer's draft closed,
/// each with what was measured against it (exact).
public struct CommitmentsEvaluated: WorkerMessage {
    public static let type = "commitments.evaluated"

    public struct Window: Sendable, Hashable {
        public var contractId: String
        public var commitmentId: String
        public var window: Int
        public var committed: Rational
        public var actual: Rational

        public init(contractId: String, commitmentId: String, window: Int, committed: Rational, actual: Rational) {
            self.contractId = contractId
            self.commitmentId = commitmentId
            self.window = window
            self.committed = committed
            self.actual = actual
        }

        public init(_ outcome: CommitmentOutcome) {
            self.init(
                contractId: outcome.contractId, commitmentId: outcome.commitmentId, window: outcome.window.number,
                committed: outcome.committed, actual: outcome.actual)
        }

        var data: JSONValue {
            .object([
                "contract_id": .string(contractId), "commitment_id": .string(commitmentId),
                "window": .number(String(window)), "committed": .string(committed.exactText),
                "actual": .string(actual.exactText),
                "shortfall": .string(Rational.max(committed - actual, .zero).exactText),
            ])
        }

        init(_ fields: Fields) throws(Rejection) {
            contractId = try fields.string("contract_id")
            commitmentId = try fields.string("commitment_id")
            window = try fields.int("window", in: 1...10_000)
            committed = try Self.exact(fields, "committed")
            actual = try Self.exact(fields, "actual")
        }

        static func exact(_ fields: Fields, _ name: String) throws(Rejection) -> Rational {
            guard let value = Rational(exactText: try fields.string(name)) else {
                throw Rejection(.invalidMessage, "\(fields.path).\(name) must be an exact figure")
            }
            return value
        }
    }

    public var runId: String
    public var customerId: String
    public var windows: [Window]

    public init(runId: String, customerId: String, windows: [Window]) {
        self.runId = runId
        self.customerId = customerId
        self.windows = windows
    }

    public var data: JSONValue {
        .object([
            "run_id": .string(runId), "customer_id": .string(customerId), "windows": .array(windows.map(\.data)),
        ])
    }

    public init(_ data: Fields) throws(Rejection) {
        runId = try data.string("run_id")
        customerId = try data.string("customer_id")
        windows = try data.objects("windows").map { item throws(Rejection) in try Window(item) }
    }
}
