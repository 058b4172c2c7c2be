import Yams

/// The YAML document after parsing, merge keys and interpolation, with a position on
/// every node: what the typed decoders read. Aliases are already expanded (Yams shares the
/// anchored node), so an alias is checked exactly as the value it stands for.
indirect enum ConfigNode {
    case scalar(ConfigScalar)
    case mapping(ConfigMapping)
    case sequence(ConfigSequence)

    var location: FileLocation {
        switch self {
        case .scalar(let scalar): scalar.location
        case .mapping(let mapping): mapping.location
        case .sequence(let sequence): sequence.location
        }
    }

    /// What the node is, for "expected …, found …" messages.
    var kindName: String {
        switch self {
        case .scalar(let scalar):
            switch scalar.kind {
            case .null: "null"
            case .bool: "a boolean"
            case .int: "an integer"
            case .float: "a number"
            case .string: "a string"
            }
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}

struct ConfigScalar {
    enum Kind { case null, bool, int, float, string }

    /// The value, after interpolation.
    var text: String
    /// What YAML resolved the plain scalar to; quoted and block scalars are strings.
    var kind: Kind
    var style: Node.Scalar.Style
    var location: FileLocation
    /// The value came (partly) from `${env:…}` or `${file:…}`: never show `text`.
    var isSecret: Bool
    /// Safe to show: the text as written, references by name only.
    var redacted: String
    /// A reference could not be resolved (already reported): the text is meaningless, so
    /// decoders skip it rather than report it again.
    var interpolationFailed = false

    /// The text as it may be shown in messages and `explain`.
    var shown: String { isSecret ? redacted : text }
}

struct ConfigMapping {
    struct Entry {
        var key: ConfigScalar
        var value: ConfigNode
    }

    var entries: [Entry]
    var location: FileLocation

    func entry(_ key: String) -> Entry? { entries.first { $0.key.text == key } }
}

struct ConfigSequence {
    var items: [ConfigNode]
    var location: FileLocation
}

/// Builds `ConfigNode`s from Yams' `Node`s.
struct ConfigNodeBuilder {
    /// Aliases can make a small file expand exponentially ("billion laughs"); no real
    /// pipeline comes near this many nodes.
    static let maximumNodes = 100_000

    var file: String
    var interpolation: Interpolation
    var log: DiagnosticLog
    private var visited = 0
    private var reportedTooLarge = false

    init(file: String, interpolation: Interpolation) {
        self.file = file
        self.interpolation = interpolation
        self.log = DiagnosticLog()
    }

    func location(_ mark: Mark?) -> FileLocation {
        FileLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    mutating func build(_ node: Node) -> ConfigNode? {
        visited += 1
        guard visited <= Self.maximumNodes else {
            if !reportedTooLarge {
                reportedTooLarge = true
                log.error(.tooLarge, "the document expands to more than \(Self.maximumNodes) nodes",
                          at: location(node.mark), hint: "check for aliases that refer to each other many times")
            }
            return nil
        }
        switch node {
        case .scalar(let scalar):
            return .scalar(value(scalar))
        case .sequence(let sequence):
            return .sequence(ConfigSequence(items: sequence.compactMap { build($0) }, location: location(sequence.mark)))
        case .mapping(let mapping):
            return buildMapping(mapping)
        case .alias(let alias):
            // Yams resolves aliases while composing; an unresolved one is reported by Yams.
            log.error(.yamlSyntax, "unresolved alias", at: location(alias.mark))
            return nil
        }
    }

    /// Merge keys (`<<: *base` or `<<: [*a, *b]`): keys written in the mapping win over
    /// merged ones, and among merged mappings the earlier one wins, as YAML 1.1 specifies.
    private mutating func buildMapping(_ mapping: Node.Mapping) -> ConfigNode? {
        var explicit: [ConfigMapping.Entry] = []
        var merged: [ConfigMapping.Entry] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                log.error(.wrongType, "keys must be plain names, found \(keyNode.mapping != nil ? "a mapping" : "a list")",
                          at: location(keyNode.mark))
                continue
            }
            if keyNode.tag.rawValue == Tag.Name.merge.rawValue && keyScalar.style == .plain {
                let sources: [Node] = valueNode.sequence.map(Array.init) ?? [valueNode]
                for source in sources {
                    guard source.mapping != nil else {
                        log.error(.wrongType, "'<<' merges mappings, found \(source.scalar != nil ? "a scalar" : "a list")",
                                  at: location(source.mark), hint: "write '<<: *anchor' or '<<: [*a, *b]'")
                        continue
                    }
                    guard case .mapping(let built)? = build(source) else { continue }
                    for entry in built.entries where !merged.contains(where: { $0.key.text == entry.key.text }) {
                        merged.append(entry)
                    }
                }
                continue
            }
            let key = ConfigScalar(
                text: keyScalar.string, kind: .string, style: keyScalar.style, location: location(keyScalar.mark),
                isSecret: false, redacted: keyScalar.string)
            guard let value = build(valueNode) else { continue }
            explicit.append(ConfigMapping.Entry(key: key, value: value))
        }
        let entries = explicit + merged.filter { entry in !explicit.contains { $0.key.text == entry.key.text } }
        return .mapping(ConfigMapping(entries: entries, location: location(mapping.mark)))
    }

    private mutating func value(_ scalar: Node.Scalar) -> ConfigScalar {
        let start = location(scalar.mark)
        let kind: ConfigScalar.Kind
        switch Node.scalar(scalar).tag.rawValue {
        case Tag.Name.null.rawValue: kind = .null
        case Tag.Name.bool.rawValue: kind = .bool
        case Tag.Name.int.rawValue: kind = .int
        case Tag.Name.float.rawValue: kind = .float
        default: kind = .string
        }
        guard kind == .string else {
            return ConfigScalar(text: scalar.string, kind: kind, style: scalar.style, location: start, isSecret: false, redacted: scalar.string)
        }
        let (resolved, problems) = interpolation.resolve(scalar.string)
        for problem in problems {
            // Point at the reference when the scalar is written on one line as it is stored.
            let offset = scalar.style == .plain && !scalar.string.contains("\n") ? problem.range.lowerBound
                : (scalar.style == .singleQuoted || scalar.style == .doubleQuoted) && !scalar.string.contains(where: { $0 == "\\" || $0 == "'" || $0 == "\n" }) ? problem.range.lowerBound + 1
                : 0
            log.error(.interpolation, problem.message, at: start.shifted(by: offset), length: problem.range.count, hint: problem.hint)
        }
        return ConfigScalar(
            text: resolved.value, kind: .string, style: scalar.style, location: start,
            isSecret: resolved.isInterpolated, redacted: resolved.redacted, interpolationFailed: !problems.isEmpty)
    }
}
