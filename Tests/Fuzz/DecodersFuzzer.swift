import BillingDomain
import CovenantMessages

// libFuzzer's entry (scripts/fuzz builds it with -sanitize=fuzzer,address): every input is a
// message as a publisher could send it. It goes through the envelope's decoder and, decoded,
// through the command's; its bytes are also tried as the data of every command type. A decoded
// contract is signed on a fixed plan, cancelled and billed, so hostile terms reach the domain's
// arithmetic too. A crash, a trap or a leak is a finding; a rejection is the expected answer.

let tenant = Tenant(
    id: "fuzz", name: "Fuzz", platformLicense: PlatformLicense(kind: .virtual, status: .active),
    serviceContractsEnabled: true, optionalTerms: [.triAnnual])
let plan = try! Plan.validated(
    id: "p", name: "P", currency: Currency(code: "INR")!,
    monthlyFee: Money(decimal: "1000.00", currency: Currency(code: "INR")!)!,
    serviceType: "vm"
).get()

func exercise(_ command: Command) {
    guard case .serviceProvision(let provision) = command, let terms = provision.contract,
        case .success(let contract) = Contract.sign(
            id: "c", customerId: provision.customerId, serviceId: provision.serviceId, plan: plan, tenant: tenant,
            paymentMode: provision.paymentMode, start: provision.startDate, terms: terms)
    else { return }
    _ = contract.cancelled(effective: contract.start.adding(days: 45), tenant: tenant)
    var invoicing = CustomerLedger(customerId: provision.customerId)
    var commitments = CommitmentLedger(customerId: provision.customerId)
    invoicing.record(contract)
    commitments.record(contract)
    for month in 1...3 {
        _ = try? invoicing.runBilling(asOf: contract.start.startOfMonth.adding(months: month), evaluating: &commitments)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    if case .success(let event) = CloudEvent.decode(bytes) {
        if case .success(let command) = Command.decode(event) { exercise(command) }
        _ = CloudEvent.decode(event.encoded())
    }
    if let data = JSONValue.parse(bytes) {
        for type in Command.types {
            let event = CloudEvent(
                id: "fuzz-1", source: "fuzz", type: type, time: "2025-01-15T09:30:00Z", tenantId: "fuzz", data: data)
            if case .success(let command) = Command.decode(event) { exercise(command) }
        }
    }
    return 0
}
