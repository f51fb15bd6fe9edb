/// A JSON object's members, kept in key order with each key once: the order its JSON text is
/// written in (so writing sorts nothing, and the same members always give the same bytes), and
/// the order that makes two objects with the same members equal.
///
/// The objects Covenant handles are small (an envelope, a contract, a line, an account's
/// parts): a member is found by binary search over the keys instead of by hashing them, and an
/// object read from text already in key order (every document Covenant wrote) is kept as read.
public struct JSONObject: Sendable, Hashable {
    public typealias Member = (key: String, value: JSONValue)

    /// Strictly increasing keys.
    public private(set) var members: [Member]

    public init() {
        members = []
    }

    /// Members in any order; a key given more than once keeps its last value.
    init(unordered: [Member]) {
        if unordered.count < 2 || Self.isInKeyOrder(unordered) {
            members = unordered
            return
        }
        // Sorted stably, so the last of equal keys ends each run of them.
        var sorted = unordered
        if sorted.count <= 32 {
            // Insertion sort: the fastest for the few members an object has, and stable.
            for next in 1..<sorted.count {
                var index = next
                while index > 0, sorted[index].key < sorted[index - 1].key {
                    sorted.swapAt(index, index - 1)
                    index -= 1
                }
            }
        } else {
            sorted = unordered.indices.sorted { left, right in
                let a = unordered[left].key
                let b = unordered[right].key
                return a < b || (a == b && left < right)
            }.map { unordered[$0] }
        }
        guard !Self.isInKeyOrder(sorted) else {
            members = sorted
            return
        }
        var kept: [Member] = []
        kept.reserveCapacity(sorted.count)
        for member in sorted {
            if let last = kept.last, last.key == member.key {
                kept[kept.count - 1].value = member.value
            } else {
                kept.append(member)
            }
        }
        members = kept
    }

    public init(_ dictionary: [String: JSONValue]) {
        self.init(unordered: dictionary.map { ($0.key, $0.value) })
    }

    private static func isInKeyOrder(_ members: [Member]) -> Bool {
        var index = 1
        while index < members.count {
            guard members[index - 1].key < members[index].key else { return false }
            index += 1
        }
        return true
    }

    /// Where `key` is, or where it would go.
    private func position(of key: String) -> (index: Int, found: Bool) {
        var low = 0
        var high = members.count
        while low < high {
            let middle = (low + high) / 2
            let candidate = members[middle].key
            if candidate == key { return (middle, true) }
            if candidate < key { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }

    /// The member's value; setting `nil` removes the member. Adding a member moves the ones after
    /// it: an object built member by member should come from a literal, `init(_:)` or parsing.
    public subscript(key: String) -> JSONValue? {
        get {
            let (index, found) = position(of: key)
            return found ? members[index].value : nil
        }
        set {
            let (index, found) = position(of: key)
            switch (found, newValue) {
            case (true, let value?): members[index].value = value
            case (true, nil): members.remove(at: index)
            case (false, let value?): members.insert((key, value), at: index)
            case (false, nil): break
            }
        }
    }

    public var keys: LazyMapSequence<[Member], String> { members.lazy.map(\.key) }

    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        var mapped = self
        for index in mapped.members.indices { mapped.members[index].value = try transform(members[index].value) }
        return mapped
    }

    /// These members with `other`'s added, `other`'s value kept where both have a key.
    public func merging(_ other: JSONObject) -> JSONObject {
        var merged = self
        for (key, value) in other.members { merged[key] = value }
        return merged
    }

    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        left.members.count == right.members.count
            && zip(left.members, right.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(members.count)
        for (key, value) in members {
            hasher.combine(key)
            hasher.combine(value)
        }
    }
}

extension JSONObject: RandomAccessCollection {
    public var startIndex: Int { members.startIndex }
    public var endIndex: Int { members.endIndex }
    public subscript(position: Int) -> Member { members[position] }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(unordered: elements.map { (key: $0.0, value: $0.1) })
    }
}
