import Foundation
import Testing
@testable import Pipeline
import PostgresSource

@Suite struct InterpolationTests {
    static func file(url: String, extra: String = "") -> String {
        """
        version: 1
        name: p
        source:
          postgres:
            url: \(url)
            tables: [t]
        stages:
          - route: {topic: "events.${lower(headers.type)}"}
        sink: {log: {dir: d\(extra)}}
        """
    }

    static func url(_ written: String, _ environment: ConfigEnvironment) throws -> SecretString {
        try PipelineFile.parse(yaml: file(url: written), environment: environment).source.url
    }

    @Test func environmentReferencesAndDefaults() throws {
        let environment = ConfigEnvironment.fixed(["HOST": "db1", "EMPTY": "", "USER": "app"])
        #expect(try Self.url("postgres://${env:USER}@${env:HOST}/x", environment).value == "postgres://app@db1/x")
        #expect(try Self.url("postgres://${env:PORTLESS:-h:5432}/x", environment).value == "postgres://h:5432/x")
        // As in the shell, ':-' also covers a variable that is set but empty.
        #expect(try Self.url("postgres://${env:EMPTY:-fallback}/x", environment).value == "postgres://fallback/x")
        #expect(try Self.url("'${env:EMPTY}postgres://h/x'", environment).value == "postgres://h/x")
        // `$${` writes a literal `${`, and is not a secret.
        let literal = try Self.url("'postgres://h/x?opt=$${env:NOT}'", environment)
        #expect(literal.value == "postgres://h/x?opt=${env:NOT}")
        #expect(!literal.isSecret)
        #expect(!(try Self.url("postgres://plain/x", environment).isSecret))
    }

    @Test func filesDropOneTrailingLineBreakAndResolveFromTheBaseDirectory() throws {
        let environment = ConfigEnvironment.fixed([:], files: ["/etc/outflow/pg": "postgres://from-file/x\n", "conf/pg": "postgres://relative/x"])
        #expect(try Self.url("${file:/etc/outflow/pg}", environment).value == "postgres://from-file/x")
        let relative = try PipelineFile.parse(yaml: Self.file(url: "${file:pg}"), baseDirectory: "conf", environment: environment)
        #expect(relative.source.url.value == "postgres://relative/x")
    }

    @Test func templatesAreNotInterpolation() throws {
        let config = try PipelineFile.parse(yaml: Self.file(url: "u"), environment: .fixed([:]))
        guard case .route(let route) = config.stages[0].kind, case .template(let template) = route.routing else {
            Issue.record("not a template route")
            return
        }
        #expect(template.source == "events.${lower(headers.type)}")
    }

    @Test(arguments: [
        ("${env:MISSING}", "environment variable MISSING is not set"),
        ("${env:MULTI}", "the value of environment variable MULTI contains a line break"),
        ("${file:/run/two-lines}", "file '/run/two-lines' has more than one line"),
        ("${file:/run/absent}", "cannot read file '/run/absent'"),
        ("${env:1BAD}", "invalid environment variable name '1BAD'"),
        ("x${env:OPEN", "'${' without a closing '}'"),
    ])
    func unusableReferencesAreErrorsAtTheReference(written: String, message: String) {
        let environment = ConfigEnvironment.fixed(["MULTI": "a\nmalicious: line"], files: ["/run/two-lines": "one\ntwo\n"])
        let text = Self.file(url: written)
        let diagnostics = Fixtures.diagnostics(text, environment: environment)
        #expect(diagnostics.map(\.message) == [message])
        #expect(diagnostics.map(\.code) == [.interpolation])
        #expect(diagnostics.first?.location == Fixtures.location(of: "${", in: text))
    }

    @Test func interpolatedValuesNeverChangeTheStructure() throws {
        // A value that looks like YAML stays one string.
        let config = try PipelineFile.parse(
            yaml: Self.file(url: "${env:INJECT}"), environment: .fixed(["INJECT": "x, tables: [evil], slot: evil"]))
        #expect(config.source.url.value == "x, tables: [evil], slot: evil")
        #expect(config.source.tables.map(\.description) == ["public.t"])
    }

    @Test func typedValuesCanComeFromTheEnvironment() throws {
        let text = Self.file(url: "u").replacingOccurrences(of: "{dir: d}", with: "{dir: d, partitions: '${env:PARTS}'}")
        let config = try PipelineFile.parse(yaml: text, environment: .fixed(["PARTS": "4"]))
        #expect(config.sink.log?.partitions == 4)
        let bad = Fixtures.diagnostics(text, environment: .fixed(["PARTS": "four"]))
        #expect(bad.map(\.code) == [.wrongType])
    }

    static let secret = "pa55-w0rd-xyzzy"

    @Test func secretsNeverAppearInWhatIsShown() throws {
        let environment = ConfigEnvironment.fixed(["PG_URL": "postgres://u:\(Self.secret)@h/db", "PW": Self.secret])
        let config = try PipelineFile.parse(yaml: Self.file(url: "${env:PG_URL}"), environment: environment)
        #expect(config.source.url.value.contains(Self.secret))
        for shown in [
            config.explanation, config.graphDOT, config.resolved.redactedYAML, config.resolved.json.rendered(),
            "\(config.source.url)", String(reflecting: config.source.url), "\(config)", "\(config.source)",
            { var text = ""; dump(config, to: &text); return text }(),
        ] {
            #expect(!shown.contains(Self.secret))
        }
        #expect(config.resolved.redactedYAML.contains("url: ${env:PG_URL}  # secret"))
        #expect(config.secrets.redact("connection to postgres://u:\(Self.secret)@h/db failed") == "connection to [redacted] failed")
    }

    @Test func secretsNeverAppearInErrors() {
        let environment = ConfigEnvironment.fixed(["PW": Self.secret, "DIR": Self.secret])
        let texts = [
            // An interpolated expression that does not parse.
            Self.file(url: "u").replacingOccurrences(of: "route: {topic: \"events.${lower(headers.type)}\"}", with: "filter: \"x == '${env:PW}\""),
            // An interpolated value that is not a valid duration, size, enum value or topic name.
            Self.file(url: "u", extra: ", segment_ms: '${env:PW}'"),
            Self.file(url: "u", extra: ", segment_bytes: '${env:PW}'"),
            Self.file(url: "u", extra: ", compression: '${env:PW}'"),
            Self.file(url: "u").replacingOccurrences(of: "stages:", with: "dead_letter: \"${env:PW}/x\"\nstages:"),
            Self.file(url: "u").replacingOccurrences(of: "tables: [t]", with: "tables: [t]\n    slot: '${env:PW}'"),
        ]
        for text in texts {
            do {
                _ = try PipelineFile.parse(yaml: text, environment: environment)
                Issue.record("loaded: \(text)")
            } catch {
                #expect(!error.description.contains(Self.secret), "\(error.description)")
                #expect(error.diagnostics.count == 1, "\(error.description)")
            }
        }
    }
}
