import BinaryIO
import Foundation
import PGOutput
import PostgresSource
import SegmentLog

/// The SQL of the Postgres sink, built once from the table names (a value: tested without a
/// server). Names are validated identifiers (`[a-z_][a-z0-9_]*`), quoted all the same. Every
/// write is one statement with array parameters unnested on the server, never a statement per
/// row; docs/postgres-sink.md shows the tables.
struct PostgresSinkStatements: Sendable {
    let schema: String
    let events: String?
    let upsert: String?
    let processed: String
    let checkpoints: String
    let history: String

    init(schema: String, eventsTable: String?, upsertTable: String?) {
        func name(_ table: String) -> String { "\(Self.quoted(schema)).\(Self.quoted(table))" }
        self.schema = Self.quoted(schema)
        events = eventsTable.map(name)
        upsert = upsertTable.map(name)
        processed = name(PostgresSinkConfig.processedTable)
        checkpoints = name(PostgresSinkConfig.checkpointsTable)
        history = name(PostgresSinkConfig.checkpointHistoryTable)
    }

    static func quoted(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// The tables, created when missing. The processed ids are keyed by pipeline, so pipelines
    /// may share a schema; the events and upsert tables are the consumer's.
    var creation: [String] {
        var statements = ["CREATE SCHEMA IF NOT EXISTS \(schema)"]
        if let events {
            statements.append("""
                CREATE TABLE IF NOT EXISTS \(events) (
                    event_id text PRIMARY KEY, topic text NOT NULL, key bytea, value bytea, headers jsonb NOT NULL,
                    source_lsn pg_lsn NOT NULL, source_xid bigint NOT NULL, source_commit_time timestamptz NOT NULL,
                    source_ordinal integer NOT NULL, inserted_at timestamptz NOT NULL DEFAULT now())
                """)
        }
        if let upsert {
            statements.append("""
                CREATE TABLE IF NOT EXISTS \(upsert) (
                    topic text NOT NULL, key bytea NOT NULL, value bytea NOT NULL, headers jsonb NOT NULL, event_id text NOT NULL,
                    source_lsn pg_lsn NOT NULL, source_ordinal integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (topic, key))
                """)
        }
        statements += [
            """
            CREATE TABLE IF NOT EXISTS \(processed) (
                pipeline text NOT NULL, event_id text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pipeline, event_id))
            """,
            "CREATE INDEX IF NOT EXISTS \(Self.quoted(PostgresSinkConfig.processedTable + "_age")) ON \(processed) (pipeline, processed_at)",
            """
            CREATE TABLE IF NOT EXISTS \(checkpoints) (
                pipeline text PRIMARY KEY, source_end pg_lsn, checkpoint bytea, recorded_position pg_lsn, highest_written pg_lsn,
                config_hash text, committed_at timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE TABLE IF NOT EXISTS \(history) (
                pipeline text NOT NULL, source_end pg_lsn NOT NULL, checkpoint bytea NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (pipeline, source_end))
            """,
        ]
        return statements
    }

    /// Every table the sink writes, for the check when it may not create them: (name, privileges).
    var required: [(table: String, privileges: String)] {
        var tables: [(String, String)] = []
        if let events { tables.append((events, "SELECT, INSERT")) }
        if let upsert { tables.append((upsert, "SELECT, INSERT, UPDATE, DELETE")) }
        tables += [(processed, "SELECT, INSERT, DELETE"), (checkpoints, "SELECT, INSERT, UPDATE"), (history, "SELECT, INSERT, DELETE")]
        return tables
    }

    /// One batch of rows in one statement: the ids go into the processed table first, and only
    /// the ids that were new there (`RETURNING`) are appended and upserted — a redelivered id is
    /// a no-op. The highest source position written rides along for at-most-once's restart.
    ///
    /// Parameters: $1 pipeline, $2 ids, $3 topics, $4 keys, $5 values, $6 headers (JSON text),
    /// $7 commit LSNs, $8 xids, $9 commit times, $10 ordinals, $11 the batch's highest commit LSN.
    var writeRows: String {
        var parts = [
            """
            WITH input AS (
                SELECT * FROM unnest($2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::text[], $7::pg_lsn[], $8::bigint[], $9::timestamptz[], $10::integer[])
                    AS t(event_id, topic, key, value, headers, source_lsn, source_xid, source_commit_time, source_ordinal)),
            fresh AS (
                INSERT INTO \(processed) (pipeline, event_id) SELECT $1, event_id FROM input ON CONFLICT DO NOTHING RETURNING event_id),
            position AS (
                INSERT INTO \(checkpoints) AS c (pipeline, highest_written) VALUES ($1, $11)
                ON CONFLICT (pipeline) DO UPDATE SET highest_written = greatest(c.highest_written, EXCLUDED.highest_written) RETURNING 1)
            """,
        ]
        if let upsert {
            parts.append("""
                , latest AS (
                    SELECT DISTINCT ON (i.topic, i.key) i.* FROM input i JOIN fresh USING (event_id) WHERE i.key IS NOT NULL
                    ORDER BY i.topic, i.key, i.source_lsn DESC, i.source_ordinal DESC),
                upserted AS (
                    INSERT INTO \(upsert) AS u (topic, key, value, headers, event_id, source_lsn, source_ordinal)
                    SELECT topic, key, value, headers::jsonb, event_id, source_lsn, source_ordinal FROM latest WHERE value IS NOT NULL
                    ON CONFLICT (topic, key) DO UPDATE SET value = EXCLUDED.value, headers = EXCLUDED.headers, event_id = EXCLUDED.event_id,
                        source_lsn = EXCLUDED.source_lsn, source_ordinal = EXCLUDED.source_ordinal, updated_at = now()
                    WHERE (u.source_lsn, u.source_ordinal) < (EXCLUDED.source_lsn, EXCLUDED.source_ordinal) RETURNING 1),
                deleted AS (
                    DELETE FROM \(upsert) u USING latest l
                    WHERE l.value IS NULL AND u.topic = l.topic AND u.key = l.key AND (u.source_lsn, u.source_ordinal) < (l.source_lsn, l.source_ordinal)
                    RETURNING 1)
                """)
        }
        if let events {
            parts.append("""
                INSERT INTO \(events) (event_id, topic, key, value, headers, source_lsn, source_xid, source_commit_time, source_ordinal)
                SELECT i.event_id, i.topic, i.key, i.value, i.headers::jsonb, i.source_lsn, i.source_xid, i.source_commit_time, i.source_ordinal
                FROM input i JOIN fresh USING (event_id) ON CONFLICT (event_id) DO NOTHING
                """)
        } else {
            parts.append("SELECT count(*) FROM fresh")
        }
        return parts.joined(separator: "\n")
    }

    /// The checkpoint of a group, in its transaction; with stage state also a history row.
    /// $1 pipeline, $2 source end, $3 checkpoint bytes, $4 config hash, $5 whether to keep history.
    var commitCheckpoint: String {
        """
        WITH kept AS (
            INSERT INTO \(history) (pipeline, source_end, checkpoint) SELECT $1, $2, $3 WHERE $5 ON CONFLICT DO NOTHING RETURNING 1)
        INSERT INTO \(checkpoints) AS c (pipeline, source_end, checkpoint, config_hash, committed_at) VALUES ($1, $2, $3, $4, now())
        ON CONFLICT (pipeline) DO UPDATE SET source_end = EXCLUDED.source_end, checkpoint = EXCLUDED.checkpoint,
            config_hash = EXCLUDED.config_hash, committed_at = now()
        """
    }

    /// at-least-once's position after its writes: $1 pipeline, $2 position.
    var recordPosition: String {
        """
        INSERT INTO \(checkpoints) AS c (pipeline, recorded_position) VALUES ($1, $2)
        ON CONFLICT (pipeline) DO UPDATE SET recorded_position = greatest(c.recorded_position, EXCLUDED.recorded_position), committed_at = now()
        """
    }

    var readCheckpoint: String {
        "SELECT checkpoint, config_hash, recorded_position::text AS recorded, highest_written::text AS highest FROM \(checkpoints) WHERE pipeline = $1"
    }

    var readHistory: String { "SELECT checkpoint FROM \(history) WHERE pipeline = $1 ORDER BY source_end" }

    /// One batch of processed ids older than the window ($2 milliseconds), at most $3 rows, by
    /// their row addresses (a TID scan: short, and no lock on anything else).
    var pruneProcessed: String {
        """
        DELETE FROM \(processed) WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM \(processed) WHERE pipeline = $1 AND processed_at < now() - $2 * interval '1 millisecond' LIMIT $3))
        """
    }

    /// History older than the window, never the newest checkpoint's.
    var pruneHistory: String {
        """
        DELETE FROM \(history) h WHERE h.pipeline = $1 AND h.committed_at < now() - $2 * interval '1 millisecond'
            AND h.source_end < (SELECT c.source_end FROM \(checkpoints) c WHERE c.pipeline = $1)
        """
    }

    /// The session lock one running instance per pipeline holds on the target.
    static let tryLock = "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked"
    static let lockHolder = """
        SELECT l.pid::text AS pid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0) LIMIT 1
        """
}

/// One record as a row of the events table.
struct InboxRow: Equatable {
    var eventID: String
    var topic: String
    var key: [UInt8]?
    var value: [UInt8]?
    var headersJSON: String
    var commitLSN: LSN
    var xid: UInt32
    var commitTime: PostgresTimestamp
    var ordinal: Int32

    var size: Int { 64 + eventID.utf8.count + topic.utf8.count + (key?.count ?? 0) + (value?.count ?? 0) + headersJSON.utf8.count }

    /// The event's id: the `id` header when a stage set one (the outbox stage does, Debezium's
    /// convention), otherwise one made from the source position — the commit LSN and the
    /// record's place in its transaction —, which a redelivery makes again.
    static func eventID(idHeader: [UInt8]?, commitLSN: LSN, ordinal: Int32) -> String {
        if let idHeader, !idHeader.isEmpty, let text = String(validating: idHeader, as: UTF8.self) { return text }
        return "\(commitLSN.description)/\(ordinal)"
    }

    /// Headers as a JSON object: name → text (UTF-8), null for a null value; a value that is not
    /// UTF-8 as `\x` and hex (bytea's text form); a name given more than once maps to the list
    /// of its values in order.
    static func headersText(_ headers: [RecordHeader]) -> String {
        var values: [String: [EventValue]] = [:]
        for header in headers {
            let value: EventValue
            if let bytes = header.value {
                value = .string(String(validating: bytes, as: UTF8.self) ?? "\\x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
            } else {
                value = .null
            }
            values[header.key, default: []].append(value)
        }
        return EventValue.object(values.mapValues { $0.count == 1 ? $0[0] : .array($0) }).jsonText
    }

    /// The parameters of `PostgresSinkStatements.writeRows` for `rows`.
    static func parameters(_ rows: [InboxRow], pipeline: String) -> [PostgresParameter] {
        func int64(_ value: Int64) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.appendInteger(value)
            return bytes
        }
        func int32(_ value: Int32) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.appendInteger(value)
            return bytes
        }
        let highest = rows.map(\.commitLSN).max() ?? .zero
        return [
            .text(pipeline),
            .array(of: BuiltinTypeOID.text, arrayOID: ArrayOID.text, rows.map { Array($0.eventID.utf8) }),
            .array(of: BuiltinTypeOID.text, arrayOID: ArrayOID.text, rows.map { Array($0.topic.utf8) }),
            .array(of: BuiltinTypeOID.bytea, arrayOID: ArrayOID.bytea, rows.map(\.key)),
            .array(of: BuiltinTypeOID.bytea, arrayOID: ArrayOID.bytea, rows.map(\.value)),
            .array(of: BuiltinTypeOID.text, arrayOID: ArrayOID.text, rows.map { Array($0.headersJSON.utf8) }),
            .array(of: ArrayOID.pgLSNElement, arrayOID: ArrayOID.pgLSN, rows.map { int64(Int64(bitPattern: $0.commitLSN.rawValue)) }),
            .array(of: BuiltinTypeOID.int8, arrayOID: ArrayOID.int8, rows.map { int64(Int64($0.xid)) }),
            .array(of: BuiltinTypeOID.timestamptz, arrayOID: ArrayOID.timestamptz, rows.map { int64($0.commitTime.rawValue) }),
            .array(of: BuiltinTypeOID.int4, arrayOID: ArrayOID.int4, rows.map { int32($0.ordinal) }),
            .lsn(highest),
        ]
    }
}

/// Array type OIDs (and pg_lsn's), fixed in every PostgreSQL since their introduction.
enum ArrayOID {
    static let text: UInt32 = 1009
    static let bytea: UInt32 = 1001
    static let int8: UInt32 = 1016
    static let int4: UInt32 = 1007
    static let timestamptz: UInt32 = 1185
    static let pgLSNElement: UInt32 = 3220
    static let pgLSN: UInt32 = 3221
}

extension PostgresParameter {
    static func lsn(_ lsn: LSN) -> PostgresParameter {
        var bytes: [UInt8] = []
        bytes.appendInteger(lsn.rawValue)
        return PostgresParameter(typeOID: ArrayOID.pgLSNElement, bytes: bytes)
    }

    static func bool(_ value: Bool) -> PostgresParameter { PostgresParameter(typeOID: BuiltinTypeOID.bool, bytes: [value ? 1 : 0]) }
}
