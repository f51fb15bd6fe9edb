import BillingDomain
import CovenantMessages
import Testing

@Suite("Usage prices: what is not built yet is refused, never billed wrong")
struct UsagePriceDecodingTests {
    func plan(_ price: String) -> Result<Command, Rejection> {
        decode(
            "plan.upsert",
            #"{"plan_id":"p","name":"P","currency":"INR","monthly_fee":"0","service_type":"sim","usage_prices":[\#(price)]}"#
        )
    }

    @Test("aggregation sum (or none) is taken; max, count, latest, unique_count and a unique_key are invalid_message")
    func aggregation() {
        let price = #""metric":"gb","model":"per_unit","unit_price":"0.10""#
        #expect((try? plan("{\(price)}").get()) != nil)
        #expect((try? plan(#"{\#(price),"aggregation":"sum"}"#).get()) != nil)
        for other in ["max", "count", "latest", "unique_count"] {
            guard case .failure(let rejection) = plan(#"{\#(price),"aggregation":"\#(other)"}"#) else {
                Issue.record("aggregation \(other) was taken")
                continue
            }
            #expect(rejection.code == .invalidMessage && rejection.message.contains(other))
        }
        #expect((try? plan(#"{\#(price),"unique_key":"imsi"}"#).get()) == nil)
    }
}
