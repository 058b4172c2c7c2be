/// The stages wired into a directed acyclic graph: the source feeds the stages that read it,
/// each stage feeds those that name it as an input, and every output that no stage reads
/// goes to the sink.
public struct StageGraph: Sendable, Equatable {
    /// Stage ids in an order where every stage comes after all of its inputs (file order
    /// among stages that are free to go first).
    public let order: [String]
    /// The inputs of each stage.
    public let inputs: [String: [StageInput]]
    /// Outputs (the source, stages, route outputs) no stage reads: they go to the sink.
    public let sinkInputs: [StageInput]

    /// The stages that read `output`.
    public func consumers(of output: StageInput) -> [String] {
        order.filter { inputs[$0]?.contains(output) ?? false }
    }

    /// Checks the drafts' ids and inputs and builds the graph. Ids missing from drafts are
    /// generated; inputs missing are the previous stage (the source for the first).
    static func build(_ drafts: [StageDraft], _ context: inout DecodingContext) -> (graph: StageGraph, ids: [String], inputs: [[StageInput]])? {
        let failuresBefore = context.log.diagnostics.count
        // Ids: explicit ones first, so generated ids never take a name the file uses.
        var ids = drafts.map(\.id)
        var taken: [String: Int] = [:]
        for (position, draft) in drafts.enumerated() {
            guard let id = draft.id else { continue }
            if let first = taken[id] {
                context.log.error(
                    .duplicateStageID, "duplicate stage id '\(id)'", at: draft.idLocation ?? draft.location, length: id.count,
                    hint: "stage \(first + 1) already has this id (line \(drafts[first].idLocation?.line ?? drafts[first].location.line))")
            } else {
                taken[id] = position
            }
        }
        let typeCounts = Dictionary(grouping: drafts.filter { $0.id == nil }, by: \.type).mapValues(\.count)
        for (position, draft) in drafts.enumerated() where draft.id == nil {
            var candidate = typeCounts[draft.type] == 1 ? draft.type.rawValue : "\(draft.type.rawValue)-\(position + 1)"
            while taken[candidate] != nil { candidate += "_" }
            taken[candidate] = position
            ids[position] = candidate
        }
        let resolvedIDs = ids.map { $0! }

        // Inputs.
        var outputNames: [String: [String]] = [:]
        // Stages whose options did not decode (already reported): their outputs are unknown,
        // so references to them are not checked further.
        var undecoded = Set<String>()
        for (id, draft) in zip(resolvedIDs, drafts) where outputNames[id] == nil {
            outputNames[id] = draft.kind?.outputNames ?? []
            if draft.kind == nil { undecoded.insert(id) }
        }
        let stageIDs = Set(resolvedIDs)
        var allInputs: [[StageInput]] = []
        for (position, draft) in drafts.enumerated() {
            guard let written = draft.inputs else {
                if position == 0 {
                    allInputs.append([.source])
                } else {
                    let previous = resolvedIDs[position - 1]
                    if let names = outputNames[previous], !names.isEmpty {
                        context.log.error(
                            .unknownInput, "stage '\(resolvedIDs[position])' has no inputs, and the stage before it, '\(previous)', has named outputs",
                            at: draft.location, hint: "add inputs: [\(names.map { "\(previous).\($0)" }.joined(separator: ", "))] or some of them")
                    }
                    allInputs.append([StageInput(stage: previous)])
                }
                continue
            }
            var inputs: [StageInput] = []
            for (input, location) in written {
                let length = input.description.count
                if inputs.contains(input) {
                    context.log.error(.unknownInput, "input '\(input)' is listed twice", at: location, length: length)
                    continue
                }
                inputs.append(input)
                if input.stage == StageConfig.sourceID {
                    if let output = input.output {
                        context.log.error(.unknownInput, "the source has no output '\(output)'", at: location, length: length, hint: "write source")
                    }
                    continue
                }
                guard stageIDs.contains(input.stage) else {
                    context.log.error(
                        .unknownInput, "unknown input '\(input)'", at: location, length: length,
                        hint: Suggestions.didYouMean(input.stage, among: [StageConfig.sourceID] + resolvedIDs)
                            ?? "inputs are 'source' or stage ids: \(resolvedIDs.joined(separator: ", "))")
                    continue
                }
                let names = outputNames[input.stage] ?? []
                if undecoded.contains(input.stage) { continue }
                if let output = input.output, !names.contains(output) {
                    context.log.error(
                        .unknownInput,
                        names.isEmpty ? "stage '\(input.stage)' has no named outputs" : "route '\(input.stage)' has no output '\(output)'",
                        at: location, length: length,
                        hint: names.isEmpty ? "write \(input.stage)" : Suggestions.didYouMean(output, among: names) ?? "its outputs are \(names.joined(separator: ", "))")
                } else if input.output == nil, !names.isEmpty {
                    context.log.error(
                        .unknownInput, "route '\(input.stage)' has named outputs; read one of them", at: location, length: length,
                        hint: "write \(names.map { "\(input.stage).\($0)" }.joined(separator: " or "))")
                }
            }
            allInputs.append(inputs)
        }

        // Cycles and reachability, by Kahn's algorithm: what never becomes ready is on a cycle
        // or downstream of one.
        var firstPosition: [String: Int] = [:]
        for (position, id) in resolvedIDs.enumerated() where firstPosition[id] == nil { firstPosition[id] = position }
        var remaining = allInputs.map { Set($0.map(\.stage).filter { $0 != StageConfig.sourceID && stageIDs.contains($0) }) }
        var order: [String] = []
        var done = Set<Int>()
        while true {
            guard let next = remaining.indices.first(where: { !done.contains($0) && remaining[$0].isEmpty }) else { break }
            done.insert(next)
            order.append(resolvedIDs[next])
            for index in remaining.indices { remaining[index].remove(resolvedIDs[next]) }
        }
        if done.count < drafts.count {
            let stuck = Set(remaining.indices.filter { !done.contains($0) })
            // Walk inputs among the stuck stages from the first one until a stage repeats.
            var reportedCycleMembers = Set<Int>()
            for start in stuck.sorted() where !reportedCycleMembers.contains(start) {
                var path: [Int] = [], current = start
                while !path.contains(current) {
                    path.append(current)
                    guard let next = remaining[current].compactMap({ firstPosition[$0] }).filter(stuck.contains).min() else { break }
                    current = next
                }
                // Every stuck stage has a stuck input, so the walk always closes a loop.
                guard let loopStart = path.firstIndex(of: current) else { continue }
                let cycle = Array(path[loopStart...])
                if cycle.contains(where: reportedCycleMembers.contains) { continue }
                reportedCycleMembers.formUnion(cycle)
                // Inputs point backwards along the flow: reverse to show the flow, starting
                // from the stage written first.
                let flow = Array(cycle.reversed())
                let first = flow.min()!
                let start = flow.firstIndex(of: first)!
                let names = (flow[start...] + flow[..<start]).map { resolvedIDs[$0] }
                context.log.error(
                    .graphCycle, "stages form a cycle: \((names + [names[0]]).joined(separator: " → "))",
                    at: drafts[first].location, hint: "a pipeline is a graph without cycles; remove one of these inputs")
            }
            for index in stuck.sorted() where !reportedCycleMembers.contains(index) {
                context.log.error(
                    .unreachableStage, "stage '\(resolvedIDs[index])' is unreachable from the source: its inputs are on a cycle",
                    at: drafts[index].location)
            }
        }
        guard context.log.diagnostics.count == failuresBefore else { return nil }

        var inputsByID: [String: [StageInput]] = [:]
        for (id, inputs) in zip(resolvedIDs, allInputs) { inputsByID[id] = inputs }
        let read = Set(allInputs.joined())
        var sinkInputs: [StageInput] = read.contains(.source) ? [] : [.source]
        for (id, draft) in zip(resolvedIDs, drafts) {
            let outputs = draft.kind?.outputNames ?? []
            let candidates = outputs.isEmpty ? [StageInput(stage: id)] : outputs.map { StageInput(stage: id, output: $0) }
            sinkInputs += candidates.filter { !read.contains($0) }
        }
        return (StageGraph(order: order, inputs: inputsByID, sinkInputs: sinkInputs), resolvedIDs, allInputs)
    }
}
