import BillingDomain
import PropertyBased
import Testing

@Suite("A service's life, for usage")
struct ServiceLifeTests {
    static let day = Gen.int(in: 0...800).map { CalendarDate(daysSinceEpoch: 20_000 + $0) }
    static let bound = zip(Gen.bool(0.8), day).map { known, day in known ? day : nil }

    @Test("Usage belongs to the service from its start to its end, excluded; an unknown bound does not limit")
    func admitsItsDays() async {
        await propertyCheck(count: 500, input: Self.bound, Self.bound, Self.day) { start, end, day in
            let problem = ServiceLife(serviceId: "sim-1", start: start, end: end).problem(usageOn: day)
            let inside = start.map { day >= $0 } ?? true && end.map { day < $0 } ?? true
            #expect((problem == nil) == inside)
            #expect(problem.map { $0.code == .unknownService } ?? true)
        }
    }
}
