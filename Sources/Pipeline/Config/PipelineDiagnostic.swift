/// A place in a pipeline file: 1-based line and column, columns counted in Unicode scalars
/// (as libyaml counts them).
public struct FileLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: FileLocation, rhs: FileLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }

    func shifted(by columns: Int) -> FileLocation {
        FileLocation(file: file, line: line, column: column + columns)
    }
}

/// One problem found in a pipeline file.
public struct PipelineDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem: stable, for tests and `--format json`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file could not be read.
        public static let unreadableFile = Code(rawValue: "unreadable-file")
        /// Not YAML: a scanner, parser or composer error from libyaml.
        public static let yamlSyntax = Code(rawValue: "yaml-syntax")
        /// A key set twice in one mapping (reported at the second).
        public static let duplicateKey = Code(rawValue: "duplicate-key")
        /// A key the object does not have; the hint suggests the closest one.
        public static let unknownKey = Code(rawValue: "unknown-key")
        /// A required field is absent (or null).
        public static let missingField = Code(rawValue: "missing-field")
        /// A list where a mapping belongs, a string where an integer belongs, …
        public static let wrongType = Code(rawValue: "wrong-type")
        /// The right type, a wrong value: out of range, not one of the allowed words, …
        public static let invalidValue = Code(rawValue: "invalid-value")
        /// Not a duration such as 500ms, 10s, 24h, 7d, 1h30m.
        public static let invalidDuration = Code(rawValue: "invalid-duration")
        /// Not a size such as 1024, 64MiB, 1GB.
        public static let invalidSize = Code(rawValue: "invalid-size")
        /// Breaks Kafka's topic rules: [a-zA-Z0-9._-], at most 249 characters, not '.' or '..'.
        public static let invalidTopicName = Code(rawValue: "invalid-topic-name")
        /// An invalid pipeline name, stage id, slot or publication name.
        public static let invalidName = Code(rawValue: "invalid-name")
        /// `version` is not one this build reads.
        public static let unsupportedVersion = Code(rawValue: "unsupported-version")
        /// A `${env:…}` or `${file:…}` reference that cannot be resolved or gives a line break.
        public static let interpolation = Code(rawValue: "interpolation")
        /// An expression that does not parse or makes a certain type mistake; the column is
        /// the one inside the expression.
        public static let expression = Code(rawValue: "expression")
        /// A stage item with no stage type key, or with more than one.
        public static let stageType = Code(rawValue: "stage-type")
        /// Two stages with one id.
        public static let duplicateStageID = Code(rawValue: "duplicate-stage-id")
        /// An input naming no stage, an output a stage does not have, or a route's outputs
        /// read without naming one.
        public static let unknownInput = Code(rawValue: "unknown-input")
        /// Stages that read each other in a loop.
        public static let graphCycle = Code(rawValue: "graph-cycle")
        /// A stage no event can reach (its inputs are on a cycle).
        public static let unreachableStage = Code(rawValue: "unreachable-stage")
        /// Options that contradict each other (compression_level with compression: none, …).
        public static let conflictingOptions = Code(rawValue: "conflicting-options")
        /// A document that expands (through aliases) beyond any real pipeline.
        public static let tooLarge = Code(rawValue: "too-large")
    }

    public var code: Code
    public var message: String
    public var location: FileLocation
    /// How many columns the caret underline spans (at least 1).
    public var length: Int
    public var hint: String?

    public init(_ code: Code, _ message: String, at location: FileLocation, length: Int = 1, hint: String? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.length = max(1, length)
        self.hint = hint
    }

    /// `file:line:col: error: message` — the first line of the rendering.
    public var description: String { "\(location): error: \(message)" }
}

/// A pipeline file that did not load, with every problem found (not only the first).
public struct PipelineFileError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [PipelineDiagnostic]
    /// The file's text, to show the offending lines.
    public var sourceText: String

    public init(diagnostics: [PipelineDiagnostic], sourceText: String) {
        self.diagnostics = diagnostics.sorted { ($0.location, $0.message) < ($1.location, $1.message) }
        self.sourceText = sourceText
    }

    /// Every diagnostic as `file:line:col: error: message`, then the line, a caret under the
    /// column and the hint. The lines are the file's own text, so interpolated secrets, which
    /// exist only in memory, never appear.
    public var description: String {
        let lines = sourceText.split(separator: "\n", omittingEmptySubsequences: false)
        var output = ""
        for diagnostic in diagnostics {
            output += diagnostic.description + "\n"
            let index = diagnostic.location.line - 1
            if lines.indices.contains(index) {
                var line = String(lines[index])
                if line.hasSuffix("\r") { line.removeLast() }
                output += line + "\n"
                // Keep tabs so the caret lines up under tab-indented text.
                var caret = ""
                for scalar in line.unicodeScalars.prefix(diagnostic.location.column - 1) {
                    caret += scalar == "\t" ? "\t" : " "
                }
                let available = line.unicodeScalars.count - (diagnostic.location.column - 1)
                caret += "^" + String(repeating: "~", count: max(0, min(diagnostic.length, available) - 1))
                output += caret + "\n"
            }
            if let hint = diagnostic.hint { output += "hint: \(hint)\n" }
        }
        let count = diagnostics.count
        output += "\(count) error\(count == 1 ? "" : "s")\n"
        return output
    }
}

/// Collects diagnostics while a file is decoded, so one run reports every problem.
struct DiagnosticLog {
    private(set) var diagnostics: [PipelineDiagnostic] = []

    mutating func error(_ code: PipelineDiagnostic.Code, _ message: String, at location: FileLocation, length: Int = 1, hint: String? = nil) {
        let diagnostic = PipelineDiagnostic(code, message, at: location, length: length, hint: hint)
        // An aliased node is decoded once per use; report its problem once.
        if !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
    }

    mutating func append(_ diagnostic: PipelineDiagnostic) {
        if !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
    }

    var isEmpty: Bool { diagnostics.isEmpty }
}
