import PGOutput

/// What IDENTIFY_SYSTEM reports.
public struct SystemIdentification: Sendable, Equatable {
    /// The cluster's unique system identifier (a 64-bit number, as text).
    public var systemID: String
    public var timeline: UInt32
    /// The current WAL flush position. Never a place to resume from: a logical slot's
    /// confirmed position is.
    public var xlogPosition: LSN
    public var database: String?
}

/// A logical replication slot just created.
public struct CreatedSlot: Sendable, Equatable {
    public var name: String
    /// The first position the slot can decode from: changes committed after it are streamed.
    public var consistentPoint: LSN
    public var outputPlugin: String
}

/// Slot names as Postgres allows them: lower-case letters, digits and underscores, at most 63.
public func isValidSlotName(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.count <= 63
        && name.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") }
}

extension PostgresConnection {
    func requireReplicationMode(_ command: String) throws(PostgresError) {
        guard mode == .replication else {
            throw PostgresError(code: .protocolViolation, message: "\(command) needs a replication connection")
        }
    }

    func requireValidSlotName(_ name: String) throws(PostgresError) {
        guard isValidSlotName(name) else {
            throw PostgresError(
                code: .queryFailed,
                message: "invalid replication slot name \"\(name)\"",
                hint: "slot names may contain only lower-case letters, digits and underscores, at most 63 characters")
        }
    }

    public func identifySystem() throws(PostgresError) -> SystemIdentification {
        try requireReplicationMode("IDENTIFY_SYSTEM")
        let result = try execute("IDENTIFY_SYSTEM")
        guard result.rows.count == 1,
            let systemID = result.value("systemid"),
            let timeline = result.value("timeline").flatMap({ UInt32($0) }),
            let position = result.value("xlogpos").flatMap({ LSN($0) })
        else {
            throw PostgresError(code: .protocolViolation, message: "unexpected IDENTIFY_SYSTEM answer: \(result.columns)")
        }
        return SystemIdentification(systemID: systemID, timeline: timeline, xlogPosition: position, database: result.value("dbname"))
    }

    /// Creates a logical slot for pgoutput. Without `twoPhase` prepared transactions are
    /// decoded only at COMMIT PREPARED, as ordinary transactions.
    public func createLogicalReplicationSlot(
        _ name: String, temporary: Bool = false, twoPhase: Bool = false
    ) throws(PostgresError) -> CreatedSlot {
        try requireReplicationMode("CREATE_REPLICATION_SLOT")
        try requireValidSlotName(name)
        var options = ["SNAPSHOT 'nothing'"]
        if twoPhase { options.append("TWO_PHASE true") }
        let command = "CREATE_REPLICATION_SLOT \(name)\(temporary ? " TEMPORARY" : "") LOGICAL pgoutput (\(options.joined(separator: ", ")))"
        let result = try execute(command)
        guard let slotName = result.value("slot_name"),
            let point = result.value("consistent_point").flatMap({ LSN($0) })
        else {
            throw PostgresError(code: .protocolViolation, message: "unexpected CREATE_REPLICATION_SLOT answer: \(result.columns)")
        }
        return CreatedSlot(name: slotName, consistentPoint: point, outputPlugin: result.value("output_plugin") ?? "pgoutput")
    }

    /// Drops a slot. With `wait`, waits for a process using it to let go instead of failing.
    public func dropReplicationSlot(_ name: String, wait: Bool = false) throws(PostgresError) {
        try requireReplicationMode("DROP_REPLICATION_SLOT")
        try requireValidSlotName(name)
        try execute("DROP_REPLICATION_SLOT \(name)\(wait ? " WAIT" : "")")
    }
}
