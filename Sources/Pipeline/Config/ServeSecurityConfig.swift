import Foundation
import Yams

/// `serve.tls`: the Kafka endpoint's certificate chain and private key, as paths of PEM files
/// (as written, or from `${env:…}`; a `${file:…}` value is one line, so it cannot hold PEM).
public struct ServeTLSConfig: Sendable, Equatable {
    public var certificatePath: String
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }

    /// The bytes of a PEM file, read when the endpoint starts.
    public static func pemBytes(path: String, what: String) throws(ServeSecurityError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServeSecurityError(.unreadable, "cannot read the TLS \(what) at \(path)")
        }
        return Array(data)
    }
}

/// `serve.sasl`: the mechanisms the endpoint offers and its users, each with the topics it may
/// read.
public struct ServeSASLConfig: Sendable, Equatable {
    public enum Mechanism: String, Sendable, CaseIterable {
        case plain = "PLAIN"
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
    }

    public struct User: Sendable, Equatable {
        public var name: String
        public var password: SecretString
        /// Globs: `*` any run of characters, `?` one.
        public var topics: [String]
    }

    public var mechanisms: [Mechanism]
    /// PLAIN without TLS sends passwords in the clear: refused unless this is set.
    public var allowPlaintextPasswords: Bool
    public var users: [User]
}

/// A security setting that cannot be used at start (an unreadable certificate file).
public struct ServeSecurityError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let unreadable = Code("unreadable")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension ServeTLSConfig {
    enum Fields {
        static let certificate = FieldSpec(
            "certificate", ValueSpec<String>.string, .required, doc: "Path of the server's certificate chain (PEM), read at start.")
        static let privateKey = FieldSpec(
            "private_key", ValueSpec<String>.string, .required, doc: "Path of the server's private key (PEM, unencrypted), read at start.")
    }

    static let spec = ObjectSpec(
        name: "serve.tls", doc: "TLS on the Kafka endpoint: clients connect with security.protocol SSL or SASL_SSL.",
        fields: [Fields.certificate.schema, Fields.privateKey.schema])

    static func decode(_ reader: ObjectReader, _ context: inout DecodingContext) -> ServeTLSConfig? {
        let certificate = reader.read(Fields.certificate, &context), privateKey = reader.read(Fields.privateKey, &context)
        guard let certificate, let privateKey else { return nil }
        return ServeTLSConfig(certificatePath: certificate, privateKeyPath: privateKey)
    }
}

extension ServeSASLConfig {
    public static let defaultMechanisms: [Mechanism] = [.scramSHA256, .scramSHA512]

    enum Fields {
        static let mechanisms = FieldSpec(
            "mechanisms", ValueSpec<[Mechanism]>.list(of: .enumeration, minimum: 1),
            .defaulted(defaultMechanisms, shown: .list(defaultMechanisms.map { .string($0.rawValue) })),
            doc: "SASL mechanisms offered: PLAIN (over TLS only), SCRAM-SHA-256, SCRAM-SHA-512.")
        static let allowPlaintextPasswords = FieldSpec(
            "allow_plaintext_passwords", ValueSpec<Bool>.boolean, .defaulted(false, shown: .scalar("false", kind: .bool, secret: false)),
            doc: "Offer PLAIN without TLS, so that passwords cross the network in the clear.")
        static let name = FieldSpec("name", ValueSpec<String>.string, .required, doc: "The user name clients authenticate with.")
        static let password = FieldSpec(
            "password", ValueSpec<SecretString>.secretString, .required, doc: "The user's password, by reference only: ${env:VAR} or ${file:path}.")
        static let topics = FieldSpec(
            "topics", ValueSpec<[String]>.list(of: .string, minimum: 1), .required,
            doc: "Topics the user may read, as globs (* any run of characters, ? one): others answer TOPIC_AUTHORIZATION_FAILED and are absent from Metadata.")
        static let userSpec = ObjectSpec(name: "serve.sasl.users", doc: "One user of the Kafka endpoint.", fields: [name.schema, password.schema, topics.schema])
        static let users = FieldSpec(
            "users", ValueSpec<[User]>.list(of: .object(userSpec, build: decodeUser), minimum: 1), .required,
            doc: "The users who may connect, each with its password and topics.")
    }

    static let spec = ObjectSpec(
        name: "serve.sasl", doc: "SASL authentication on the Kafka endpoint, with a topic allow-list per user.",
        fields: [Fields.mechanisms.schema, Fields.allowPlaintextPasswords.schema, Fields.users.schema])

    static func decodeUser(_ reader: ObjectReader, _ context: inout DecodingContext) -> User? {
        let name = reader.read(Fields.name, &context), password = reader.read(Fields.password, &context)
        let topics = reader.read(Fields.topics, &context)
        // A password written into the file would be shown by every tool that prints the file.
        if let password, !password.isSecret {
            context.log.error(
                .invalidValue, "password must be given by reference", at: reader.keyLocation(Fields.password.name) ?? reader.location,
                length: Fields.password.name.count, hint: "write ${env:VARIABLE} or ${file:path} instead of the password itself")
            return nil
        }
        guard let name, let password, let topics else { return nil }
        return User(name: name, password: password, topics: topics)
    }

    /// `tlsConfigured`: whether the endpoint has TLS, without which PLAIN is refused unless
    /// `allow_plaintext_passwords` says otherwise.
    static func decode(_ reader: ObjectReader, tlsConfigured: Bool, _ context: inout DecodingContext) -> ServeSASLConfig? {
        let mechanisms = reader.read(Fields.mechanisms, &context)
        let allowPlaintext = reader.read(Fields.allowPlaintextPasswords, &context)
        let users = reader.read(Fields.users, &context)
        guard let mechanisms, let allowPlaintext, let users else { return nil }
        var valid = true
        if mechanisms.contains(.plain), !tlsConfigured, !allowPlaintext {
            context.log.error(
                .conflictingOptions, "PLAIN without TLS sends passwords in the clear", at: plainLocation(reader) ?? reader.location,
                length: Mechanism.plain.rawValue.count,
                hint: "configure TLS (serve.tls, or --tls-certificate and --tls-key), use SCRAM-SHA-256/512, or set allow_plaintext_passwords: true")
            valid = false
        }
        var seen: Set<String> = []
        for user in users where !seen.insert(user.name).inserted {
            context.log.error(.invalidValue, "user '\(user.name)' is listed twice", at: reader.keyLocation(Fields.users.name) ?? reader.location)
            valid = false
        }
        return valid ? ServeSASLConfig(mechanisms: mechanisms, allowPlaintextPasswords: allowPlaintext, users: users) : nil
    }

    /// Where PLAIN is written in the mechanisms list.
    private static func plainLocation(_ reader: ObjectReader) -> FileLocation? {
        guard case .sequence(let list) = reader.node(Fields.mechanisms.name) else { return nil }
        for item in list.items {
            if case .scalar(let scalar) = item, scalar.text == Mechanism.plain.rawValue { return scalar.location }
        }
        return nil
    }
}

/// `outflow serve --users FILE`: a YAML file shaped as `serve.sasl` (mechanisms,
/// allow_plaintext_passwords, users), checked as a pipeline file is, `file:line:col` included.
public enum ServeUsersFile {
    /// The users and the secrets interpolated into them (for the log's redaction).
    public static func load(
        path: String, tlsConfigured: Bool, environment: ConfigEnvironment = .process
    ) throws(PipelineFileError) -> (sasl: ServeSASLConfig, secrets: SecretValues) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw PipelineFileError(
                diagnostics: [PipelineDiagnostic(
                    .unreadableFile, "cannot read the file: \((error as NSError).localizedDescription)", at: FileLocation(file: path, line: 1, column: 1))],
                sourceText: "")
        }
        var context = DecodingContext(sourceText: text)
        func fail() -> PipelineFileError { PipelineFileError(diagnostics: context.log.diagnostics, sourceText: text) }
        let document: Node?
        do { document = try Yams.compose(yaml: text) } catch {
            context.log.append(PipelineFile.syntaxDiagnostic(error, file: path, yaml: text))
            throw fail()
        }
        guard let document else {
            context.log.error(.missingField, "the file is empty", at: FileLocation(file: path, line: 1, column: 1), hint: "a users file needs users: [...]")
            throw fail()
        }
        let base = (path as NSString).deletingLastPathComponent
        var builder = ConfigNodeBuilder(file: path, interpolation: Interpolation(environment: environment, baseDirectory: base.isEmpty ? "." : base))
        let root = builder.build(document)
        for diagnostic in builder.log.diagnostics { context.log.append(diagnostic) }
        guard let root else { throw fail() }
        let reader = ObjectReader(root, spec: ServeSASLConfig.spec, context: &context)
        guard reader.isMapping, let sasl = ServeSASLConfig.decode(reader, tlsConfigured: tlsConfigured, &context), context.log.isEmpty else { throw fail() }
        return (sasl, context.secrets)
    }
}
