import FaultInjection
import KafkaProtocol
import NIOCore
import SegmentLog

/// Committed offsets of consumer groups, durable in the log directory and shared with
/// `outflow tail --group`: from members of a group (`GroupCoordinator` checks their member id
/// and generation) and from consumers that assign their partitions themselves.
extension RequestProcessor {
    /// Every group is coordinated here; transactional ids are not (nothing produces).
    static func findCoordinator(_ request: FindCoordinatorRequest, header: RequestHeader, broker: BrokerAddress) -> ByteBuffer {
        let response: FindCoordinatorResponse
        if request.keyType == FindCoordinatorRequest.groupKeyType {
            response = FindCoordinatorResponse(coordinator: broker.metadataBroker, keys: request.keys, version: header.apiVersion)
        } else if header.apiVersion >= 4 {
            response = FindCoordinatorResponse(
                coordinators: request.keys.map {
                    FindCoordinatorResponse.Coordinator(key: $0, nodeID: -1, host: "", port: -1, errorCode: .coordinatorNotAvailable)
                })
        } else {
            response = FindCoordinatorResponse(errorCode: .coordinatorNotAvailable)
        }
        return KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID)
    }

    /// `membershipError`: what the group coordinator said of the committer's member id and
    /// generation (nil: it may commit).
    /// Any authenticated user may use any group; the topics are checked against `access`.
    func offsetCommit(
        _ request: OffsetCommitRequest, header: RequestHeader, membershipError: KafkaErrorCode?, access: TopicAccess = .everything
    ) throws(SegmentLogError) -> ByteBuffer {
        let counts = try log.partitionCounts()
        let groupError: KafkaErrorCode? = (try? ConsumerGroups.validate(group: request.groupID)) == nil ? .invalidGroupID : membershipError
        var offsets: [TopicPartition: Int64] = [:]
        var topics: [OffsetCommitResponse.Topic] = []
        for topic in request.topics {
            var partitions: [OffsetCommitResponse.Partition] = []
            for partition in topic.partitions {
                let index = partition.partitionIndex
                if let groupError {
                    partitions.append(OffsetCommitResponse.Partition(partitionIndex: index, errorCode: groupError))
                } else if !access.allows(topic.name) {
                    partitions.append(OffsetCommitResponse.Partition(partitionIndex: index, errorCode: .topicAuthorizationFailed))
                } else if let tp = Self.topicPartition(topic.name, index, counts), partition.committedOffset >= 0 {
                    offsets[tp] = partition.committedOffset
                    partitions.append(OffsetCommitResponse.Partition(partitionIndex: index))
                } else {
                    partitions.append(
                        OffsetCommitResponse.Partition(
                            partitionIndex: index, errorCode: partition.committedOffset < 0 ? .invalidRequest : .unknownTopicOrPartition))
                }
            }
            topics.append(OffsetCommitResponse.Topic(name: topic.name, partitions: partitions))
        }
        if !offsets.isEmpty {
            // The crash campaign kills here: a restart must read the old offsets or the new, whole.
            CrashPoint.hit("endpoint.offsets.before-write")
            try log.commit(group: request.groupID, offsets: offsets) { CrashPoint.hit("endpoint.offsets.after-temp-write") }
            CrashPoint.hit("endpoint.offsets.after-replace")
        }
        return KafkaResponseFrame.encode(OffsetCommitResponse(topics: topics), version: header.apiVersion, correlationID: header.correlationID)
    }

    /// A topic outside `access` answers TOPIC_AUTHORIZATION_FAILED per partition when named,
    /// and is left out when the request asks for every committed offset.
    func offsetFetch(_ request: OffsetFetchRequest, header: RequestHeader, access: TopicAccess = .everything) throws(SegmentLogError) -> ByteBuffer {
        guard (try? ConsumerGroups.validate(group: request.groupID)) != nil else {
            let response = OffsetFetchResponse(topics: [], errorCode: .invalidGroupID)
            return KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID)
        }
        let committed = try log.groups.committedOffsets(group: request.groupID)
        let topics: [OffsetFetchResponse.Topic]
        if let requested = request.topics {
            topics = requested.map { topic in
                OffsetFetchResponse.Topic(
                    name: topic.name,
                    partitions: topic.partitionIndexes.map { index in
                        guard access.allows(topic.name) else {
                            return OffsetFetchResponse.Partition(partitionIndex: index, committedOffset: -1, errorCode: .topicAuthorizationFailed)
                        }
                        let offset = (try? TopicPartition(topic: topic.name, partition: index)).flatMap { committed[$0] }
                        return OffsetFetchResponse.Partition(partitionIndex: index, committedOffset: offset ?? -1)
                    })
            }
        } else {
            topics = Dictionary(grouping: committed.keys.filter { access.allows($0.topic) }.sorted(), by: \.topic).sorted { $0.key < $1.key }.map { topic, partitions in
                OffsetFetchResponse.Topic(
                    name: topic, partitions: partitions.map { OffsetFetchResponse.Partition(partitionIndex: $0.partition, committedOffset: committed[$0]!) })
            }
        }
        return KafkaResponseFrame.encode(OffsetFetchResponse(topics: topics), version: header.apiVersion, correlationID: header.correlationID)
    }

    /// Groups with members (in their state), then groups with committed offsets only
    /// ("Empty"); the states filter as Kafka applies it, ignoring case.
    func listGroups(_ request: ListGroupsRequest, header: RequestHeader) throws(SegmentLogError) -> ByteBuffer {
        let wanted = Set(request.statesFilter.map { $0.lowercased() })
        let active = membership.listing
        let activeIDs = Set(active.map(\.groupID))
        var groups = active.map { ListGroupsResponse.Group(groupID: $0.groupID, protocolType: $0.protocolType, groupState: $0.state.rawValue) }
        groups += try log.groups.groups().filter { !activeIDs.contains($0) }.map {
            ListGroupsResponse.Group(groupID: $0, protocolType: "consumer", groupState: GroupCoordinator.State.empty.rawValue)
        }
        if !wanted.isEmpty { groups = groups.filter { wanted.contains($0.groupState.lowercased()) } }
        return KafkaResponseFrame.encode(ListGroupsResponse(groups: groups), version: header.apiVersion, correlationID: header.correlationID)
    }

    /// A group with members as the coordinator holds it; one with committed offsets only is
    /// "Empty"; any other is "Dead", as Kafka describes a group it does not know.
    func describeGroups(_ request: DescribeGroupsRequest, header: RequestHeader) throws(SegmentLogError) -> ByteBuffer {
        let known = Set(try log.groups.groups())
        let response = DescribeGroupsResponse(
            groups: request.groups.map { group in
                if let active = membership.describe(group) { return active }
                let exists = known.contains(group)
                return DescribeGroupsResponse.Group(
                    groupID: group, groupState: exists ? "Empty" : "Dead", protocolType: exists ? "consumer" : "", protocolData: "", members: [])
            })
        return KafkaResponseFrame.encode(response, version: header.apiVersion, correlationID: header.correlationID)
    }
}
