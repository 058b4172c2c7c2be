/// A topic pattern of a user's allow-list: `*` stands for any run of characters (none too),
/// `?` for exactly one; every other character stands for itself. `orders.*` allows
/// `orders.created` and `orders.`, not `orders`.
public struct TopicGlob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let scalars: [Unicode.Scalar]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.scalars = Array(pattern.unicodeScalars)
    }

    public var description: String { pattern }

    public func matches(_ topic: String) -> Bool {
        let name = Array(topic.unicodeScalars)
        // Greedy with one backtrack point (the last `*`): linear in practice, never exponential.
        var p = 0, n = 0
        var star: Int?, starMatched = 0
        while n < name.count {
            if p < scalars.count, scalars[p] == "?" || scalars[p] == name[n] {
                p += 1
                n += 1
            } else if p < scalars.count, scalars[p] == "*" {
                star = p
                starMatched = n
                p += 1
            } else if let star {
                p = star + 1
                starMatched += 1
                n = starMatched
            } else {
                return false
            }
        }
        while p < scalars.count, scalars[p] == "*" { p += 1 }
        return p == scalars.count
    }
}

/// Which topics a connection may read: all of them (no SASL configured), or those an
/// authenticated user's allow-list names.
public struct TopicAccess: Sendable, Hashable {
    private let globs: [TopicGlob]?

    /// Every topic: the endpoint has no users.
    public static let everything = TopicAccess(globs: nil)

    public init(allowing globs: [TopicGlob]) { self.globs = globs }

    private init(globs: [TopicGlob]?) { self.globs = globs }

    public func allows(_ topic: String) -> Bool {
        guard let globs else { return true }
        return globs.contains { $0.matches(topic) }
    }
}
