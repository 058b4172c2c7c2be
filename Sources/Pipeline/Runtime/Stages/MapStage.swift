import SegmentLog

/// `map`: renames, sets and drops fields, headers (`headers.name`) and the topic and key
/// (`__topic`, `__key`). Changing the value field (the outbox payload) re-renders the value.
public final class MapStage: Stage {
    public let id: String
    public let config: MapStageConfig

    public init(id: String, config: MapStageConfig) {
        self.id = id
        self.config = config
    }

    public var readsCommitPosition: Bool {
        let targets = config.rename.flatMap { [$0.from, $0.to] } + config.set.map(\.target) + config.drop
        return config.set.contains { $0.value.readsCommitPosition }
            || targets.contains { target in
                if case .metadata(let field) = target { return MetadataField.commitPosition.contains(field) }
                return false
            }
    }

    public func process(_ event: PipelineEvent, emit: (PipelineEvent, String?) -> Void) throws(StageFailure) {
        var event = event
        var valueChanged = false
        func read(_ target: FieldTarget) -> EventValue {
            switch target {
            case .field(let path): event.value(at: path) ?? .null
            case .metadata(let field): event.metadata(field)
            }
        }
        func write(_ target: FieldTarget, _ value: EventValue?) {
            switch target {
            case .metadata(.topic): event.topic = value.flatMap { $0.isNull ? nil : $0.plainText }
            case .metadata(.key): event.key = value?.recordBytes
            case .metadata: break  // read-only metadata: the loader refuses these
            case .field(let path):
                if path.root == "headers", path.segments.count == 2, case .name(let header) = path.segments[1] {
                    if let value { event.setHeader(header, value.recordBytes) } else { event.headers.removeAll { $0.key == header } }
                    return
                }
                if path.root == event.valueField { valueChanged = true }
                event.materializeRowFields()
                event.fields[path.root] = Self.updating(event.fields[path.root] ?? (event.value(at: FieldPath(names: path.root)) ?? .null), at: path.segments.dropFirst(), to: value)
            }
        }
        do {
            for rename in config.rename {
                let value = read(rename.from)
                write(rename.from, nil)
                write(rename.to, value)
            }
            for assignment in config.set { write(assignment.target, try assignment.value.evaluate(on: event)) }
            for target in config.drop { write(target, nil) }
        } catch {
            throw StageFailure(stageID: id, message: "map failed: \(error)")
        }
        if valueChanged, let field = event.valueField {
            event.value = event.fields[field].map { $0.isNull ? nil : Array($0.jsonText.utf8) } ?? nil
        }
        emit(event, nil)
    }

    /// `root` with the value at `path` replaced (nil: removed), creating objects on the way.
    static func updating(_ root: EventValue, at path: ArraySlice<FieldPath.Segment>, to value: EventValue?) -> EventValue? {
        guard let first = path.first else { return value }
        switch (first, root) {
        case (.name(let name), .object(var members)):
            members[name] = updating(members[name] ?? .null, at: path.dropFirst(), to: value)
            return .object(members)
        case (.name(let name), .null):
            guard let inner = updating(.null, at: path.dropFirst(), to: value) else { return root }
            return .object([name: inner])
        case (.index(let position), .array(var items)) where items.indices.contains(position):
            if let inner = updating(items[position], at: path.dropFirst(), to: value) { items[position] = inner } else { items.remove(at: position) }
            return .array(items)
        default:
            return root
        }
    }
}
