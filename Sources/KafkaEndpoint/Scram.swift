import CLibCrypto
import Foundation

/// The hash a SCRAM mechanism is built on (RFC 5802; SHA-256 from RFC 7677, SHA-512 as Kafka
/// names it). The primitives are OpenSSL's libcrypto, one call each.
public enum ScramAlgorithm: String, Sendable, CaseIterable {
    case sha256 = "SCRAM-SHA-256"
    case sha512 = "SCRAM-SHA-512"

    /// RFC 7677 asks for at least 4096 iterations; Kafka refuses fewer too.
    public static let minimumIterations = 4096

    /// The digest's length in bytes: also the length of every key and proof of the exchange.
    var digestLength: Int {
        switch self {
        case .sha256: 32
        case .sha512: 64
        }
    }

    /// libcrypto's digest descriptor (a static table in the library: never freed).
    private var digest: OpaquePointer {
        switch self {
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
    }

    func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // An empty array may have no storage; libcrypto is given a valid pointer and length 0.
        let keyBytes = key.isEmpty ? [0] : key, messageBytes = message.isEmpty ? [0] : message
        let done = keyBytes.withUnsafeBufferPointer { keyBuffer in
            messageBytes.withUnsafeBufferPointer { messageBuffer in
                HMAC(digest, keyBuffer.baseAddress, Int32(key.count), messageBuffer.baseAddress, message.count, &output, &length)
            }
        }
        // Fails only when the library cannot allocate: nothing sensible goes on from there.
        precondition(done != nil && Int(length) == digestLength, "libcrypto HMAC failed")
        return Array(output.prefix(Int(length)))
    }

    func hash(_ message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let messageBytes = message.isEmpty ? [0] : message
        let done = messageBytes.withUnsafeBufferPointer { messageBuffer in
            EVP_Digest(messageBuffer.baseAddress, message.count, &output, &length, digest, nil)
        }
        precondition(done == 1 && Int(length) == digestLength, "libcrypto digest failed")
        return Array(output.prefix(Int(length)))
    }

    /// RFC 5802's Hi(): PBKDF2 with this HMAC and one output block, whose length is the hash's
    /// (RFC 5802 §2.2 notes Hi is PBKDF2 with dkLen the hash's length).
    func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: digestLength)
        let passwordBytes = password.isEmpty ? [0] : password, saltBytes = salt.isEmpty ? [0] : salt
        let done = passwordBytes.withUnsafeBufferPointer { passwordBuffer in
            saltBytes.withUnsafeBufferPointer { saltBuffer in
                passwordBuffer.withMemoryRebound(to: CChar.self) { passwordCharacters in
                    PKCS5_PBKDF2_HMAC(
                        passwordCharacters.baseAddress, Int32(password.count), saltBuffer.baseAddress, Int32(salt.count), Int32(max(1, iterations)),
                        digest, Int32(digestLength), &output)
                }
            }
        }
        precondition(done == 1, "libcrypto PBKDF2 failed")
        return output
    }
}

/// What the server keeps of one user's password for one SCRAM mechanism (RFC 5802 §3): the
/// salt, the iteration count, StoredKey and ServerKey. The password itself is not needed again.
public struct ScramCredential: Sendable, Hashable, CustomStringConvertible {
    public let algorithm: ScramAlgorithm
    public let salt: [UInt8]
    public let iterations: Int
    let storedKey: [UInt8]
    let serverKey: [UInt8]

    /// Passwords are used as their UTF-8 bytes, without SASLprep, as Kafka's clients send them.
    public init(password: String, salt: [UInt8], iterations: Int, algorithm: ScramAlgorithm) {
        let salted = algorithm.saltedPassword(Array(password.utf8), salt: salt, iterations: iterations)
        self.algorithm = algorithm
        self.salt = salt
        self.iterations = iterations
        self.storedKey = algorithm.hash(algorithm.hmac(key: salted, Array("Client Key".utf8)))
        self.serverKey = algorithm.hmac(key: salted, Array("Server Key".utf8))
    }

    /// A credential with a fresh random salt, as the endpoint derives each user's at start.
    public static func random(password: String, iterations: Int = ScramAlgorithm.minimumIterations, algorithm: ScramAlgorithm) -> ScramCredential {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return ScramCredential(password: password, salt: salt, iterations: iterations, algorithm: algorithm)
    }

    /// Whether `password` is the one this credential was derived from (for PLAIN).
    func verifies(password: String) -> Bool {
        let other = ScramCredential(password: password, salt: salt, iterations: iterations, algorithm: algorithm)
        return constantTimeEquals(other.storedKey, storedKey)
    }

    public var description: String { "ScramCredential(\(algorithm.rawValue), \(iterations) iterations)" }
}

/// Compares without stopping at the first difference, so the time taken tells nothing.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}

/// The server side of one SCRAM exchange (RFC 5802 §5, as Kafka's clients speak it): two
/// messages in, two out. A value that takes each client message and says what to send; no
/// I/O, no clock, the nonce given, so the tests follow the RFC's examples byte for byte.
struct ScramServerExchange: Sendable {
    enum Step: Sendable, Equatable {
        /// Send the server-first-message and wait for the client's final one.
        case challenge([UInt8])
        /// The proof holds: send the server-final-message (the server's signature).
        case authenticated(user: String, serverFinal: [UInt8])
        /// Refuse; `reason` is for the log only (the client is told less).
        case failed(reason: String)
    }

    private enum State: Sendable {
        case awaitingClientFirst
        case awaitingClientFinal(user: String, credential: ScramCredential, gs2Header: String, clientFirstBare: String, serverFirst: String, nonce: String)
        case finished
    }

    let algorithm: ScramAlgorithm
    private let credentials: [String: ScramCredential]
    private let serverNonce: String
    private var state = State.awaitingClientFirst

    /// `credentials` by user name, all of `algorithm`; `serverNonce` is appended to the
    /// client's (printable, no comma: `randomNonce()` in use).
    init(algorithm: ScramAlgorithm, credentials: [String: ScramCredential], serverNonce: String = ScramServerExchange.randomNonce()) {
        self.algorithm = algorithm
        self.credentials = credentials
        self.serverNonce = serverNonce
    }

    static func randomNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    mutating func receive(_ message: [UInt8]) -> Step {
        guard let text = String(validating: message, as: UTF8.self) else { return fail("the message is not UTF-8") }
        switch state {
        case .awaitingClientFirst: return clientFirst(text)
        case .awaitingClientFinal(let user, let credential, let gs2Header, let clientFirstBare, let serverFirst, let nonce):
            return clientFinal(text, user: user, credential: credential, gs2Header: gs2Header, clientFirstBare: clientFirstBare, serverFirst: serverFirst, nonce: nonce)
        case .finished: return fail("a message after the exchange ended")
        }
    }

    private mutating func fail(_ reason: String) -> Step {
        state = .finished
        return .failed(reason: reason)
    }

    /// `gs2-header client-first-message-bare`: `n,,n=user,r=nonce[,extensions]`.
    private mutating func clientFirst(_ text: String) -> Step {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4 else { return fail("client-first-message has too few attributes") }
        switch parts[0] {
        case "n", "y": break
        default: return fail("channel binding '\(parts[0])' is not supported")
        }
        let gs2Header = parts[0] + "," + parts[1] + ","
        guard parts[2].hasPrefix("n="), parts[3].hasPrefix("r=") else {
            return fail(parts[2].hasPrefix("m=") ? "mandatory extension m= is not supported" : "client-first-message lacks n= or r=")
        }
        guard let user = Self.saslName(String(parts[2].dropFirst(2))), !user.isEmpty else { return fail("malformed user name") }
        if !parts[1].isEmpty {
            // An authorization identity other than the user itself is not supported.
            guard parts[1].hasPrefix("a="), Self.saslName(String(parts[1].dropFirst(2))) == user else {
                return fail("authorization identity differs from the user name")
            }
        }
        // Kafka's extensions (after the nonce): delegation tokens are not supported.
        if parts.dropFirst(4).contains(where: { $0.hasPrefix("tokenauth=") && $0 != "tokenauth=false" }) {
            return fail("delegation tokens are not supported")
        }
        let clientNonce = String(parts[3].dropFirst(2))
        guard !clientNonce.isEmpty else { return fail("empty client nonce") }
        guard let credential = credentials[user] else { return fail("unknown user '\(user)'") }
        let nonce = clientNonce + serverNonce
        let serverFirst = "r=\(nonce),s=\(Data(credential.salt).base64EncodedString()),i=\(credential.iterations)"
        state = .awaitingClientFinal(
            user: user, credential: credential, gs2Header: gs2Header, clientFirstBare: parts.dropFirst(2).joined(separator: ","), serverFirst: serverFirst,
            nonce: nonce)
        return .challenge(Array(serverFirst.utf8))
    }

    /// `c=base64(gs2-header),r=nonce[,extensions],p=proof`.
    private mutating func clientFinal(
        _ text: String, user: String, credential: ScramCredential, gs2Header: String, clientFirstBare: String, serverFirst: String, nonce: String
    ) -> Step {
        guard let proofStart = text.range(of: ",p=", options: .backwards) else { return fail("client-final-message has no proof") }
        let withoutProof = String(text[..<proofStart.lowerBound])
        let attributes = withoutProof.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard attributes.count >= 2, attributes[0].hasPrefix("c="), attributes[1].hasPrefix("r=") else {
            return fail("client-final-message lacks c= or r=")
        }
        guard let binding = Data(base64Encoded: String(attributes[0].dropFirst(2))), binding == Data(gs2Header.utf8) else {
            return fail("channel binding differs from the first message's header")
        }
        guard String(attributes[1].dropFirst(2)) == nonce else { return fail("nonce differs from the one agreed") }
        guard let proof = Data(base64Encoded: String(text[proofStart.upperBound...])).map(Array.init), proof.count == credential.storedKey.count else {
            return fail("malformed proof")
        }
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = algorithm.hmac(key: credential.storedKey, authMessage)
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard constantTimeEquals(algorithm.hash(clientKey), credential.storedKey) else { return fail("wrong password for '\(user)'") }
        state = .finished
        let serverSignature = algorithm.hmac(key: credential.serverKey, authMessage)
        return .authenticated(user: user, serverFinal: Array("v=\(Data(serverSignature).base64EncodedString())".utf8))
    }

    /// A `saslname`: `=2C` for a comma, `=3D` for `=`, any other `=` is malformed.
    static func saslName(_ text: String) -> String? {
        var output = ""
        var rest = Substring(text)
        while let equals = rest.firstIndex(of: "=") {
            output += rest[..<equals]
            let code = rest[equals...].prefix(3)
            switch code {
            case "=2C": output += ","
            case "=3D": output += "="
            default: return nil
            }
            rest = rest[equals...].dropFirst(3)
        }
        return output + rest
    }
}
