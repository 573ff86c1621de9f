// Package wire is the broker's contract on NATS, in one place: the names of
// its streams, buckets and consumers, the subjects it reads and writes and how
// they are built and parsed, the headers it adds, and the message-id rules that
// make JetStream store each thing once. The broker, the adapters (which must
// not link the broker) and the tools all use it; it imports only uin.
//
// No subject ever holds a raw UIN: a child appears only as its keyed hash
// (audit) or its partition token (ingest).
package wire

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ecm-broker/ecm-broker/uin"
)

// Streams and buckets. Named to read well in `nats stream ls`: one stream per
// stage, subjects that say who they are for.
const (
	StreamIngest     = "ECM_INGEST"     // ecm.ingest.<area>.<agency>.<partition>: every participant's events, sourced from its ECM_IN_ stream
	StreamDelivery   = "ECM_DELIVERY"   // ecm.deliver.<area>.<agency>: each participant's copies
	StreamAudit      = "ECM_AUDIT"      // ecm.audit.<child key>: one record per decided event
	StreamDeadLetter = "ECM_DEADLETTER" // ecm.deadletter.<area>.<agency>: rejected input with reasons
	BucketChildren   = "ECM_CHILDREN"   // key <child key>: index record and consent history
	BucketMeta       = "ECM_META"       // broker-wide settings shared by every instance
	// BucketTriage holds what an operator did about a dead letter (resolved
	// with a note, or resubmitted corrected), keyed by the dead letter's
	// sequence in ECM_DEADLETTER (TriageKey). Erased with the dead letter.
	BucketTriage = "ECM_DEADLETTER_TRIAGE"
	BucketPolicy = "ECM_POLICY" // the policy's revisions (full text), the live one, proposals: PolicyLiveKey ...
)

// TriageKey is the key of dead letter seq's triage in BucketTriage.
func TriageKey(seq uint64) string { return strconv.FormatUint(seq, 10) }

// Keys of BucketPolicy. Every revision that was ever live is kept, in the
// order it went live, with its full text (PolicyRevisionKey); PolicyLiveKey
// names the one live now; proposals are kept by id.
const (
	PolicyLiveKey        = "live"
	policyRevisionPrefix = "rev."
	policyProposalPrefix = "proposal."
	PolicyRevisionFilter = policyRevisionPrefix + ">"
	PolicyProposalFilter = policyProposalPrefix + ">"
)

// PolicyRevisionKey is the key of the n-th revision to go live (from 1),
// zero-padded so that keys sort in the order they went live.
func PolicyRevisionKey(n int) string { return fmt.Sprintf("%s%08d", policyRevisionPrefix, n) }

// ParsePolicyRevisionKey returns n of a PolicyRevisionKey.
func ParsePolicyRevisionKey(key string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(key, policyRevisionPrefix))
	return n, err == nil && strings.HasPrefix(key, policyRevisionPrefix) && n > 0
}

// PolicyProposalKey is the key of a proposal by id.
func PolicyProposalKey(id string) string { return policyProposalPrefix + id }

// A participant's events are stored first in a stream of its own,
// ECM_IN_<area>_<agency> (IngestStream), which holds its ingest subjects. That
// stream is what answers its publishes: JetStream's duplicate detection
// (Nats-Msg-Id), the sequences in its acknowledgements and the
// Nats-Expected-* checks all see only the participant's own events, so no
// participant can have another's event taken for a duplicate or learn another's
// sequences. ECM_INGEST has no subjects of its own: it sources every
// participant's stream, keeping the subjects, without duplicate detection
// (a stream with sources and no duplicate window has none), and the broker's
// partition consumers read it in the order it took the events in.
const IngestStreamPrefix = "ECM_IN_"

// IngestStream is participant id's own ingest stream ("leeds/pct" →
// "ECM_IN_leeds_pct").
func IngestStream(participant string) string {
	return IngestStreamPrefix + ParticipantAccount(participant)
}

// HeaderSourced is the header nats-server puts on a message it copies from a
// source stream: "<stream> <sequence> <filter> <transform> <subject>"
// (nats-server stream.go, genSourceHeader).
const HeaderSourced = "Nats-Stream-Source"

// ParseSourced reads the origin of a sourced message from its HeaderSourced
// value: the stream it was copied from and its sequence there.
func ParseSourced(value string) (stream string, seq uint64, ok bool) {
	f := strings.Fields(value)
	if len(f) < 2 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, false
	}
	return f[0], seq, true
}

// Consumers the broker instances share on ECM_INGEST: ecm-broker-p00 …
// ecm-broker-p15, one per partition, each pinned to one instance at a time
// (priority group PriorityGroup); ecm-broker-unrouted dead-letters events
// published without a partition token.
const (
	ConsumerPrefix   = "ecm-broker-p"
	ConsumerUnrouted = "ecm-broker-unrouted"
	PriorityGroup    = "ecm"
)

// Subject roots and the filters that cover each stream.
const (
	ingestRoot     = "ecm.ingest."
	deliverRoot    = "ecm.deliver."
	auditRoot      = "ecm.audit."
	deadLetterRoot = "ecm.deadletter."

	IngestFilter     = "ecm.ingest.>"
	IngestUnrouted   = "ecm.ingest.*.*" // a participant's bare subject: no partition token
	DeliveryFilter   = "ecm.deliver.>"
	AuditFilter      = "ecm.audit.>"
	DeadLetterFilter = "ecm.deadletter.>"

	// AuditCheckpointSubject holds the signed checkpoints of every instance.
	AuditCheckpointSubject = "ecm.audit._checkpoint"
	// AuditOpsSubject holds operator actions that concern no single child
	// (a replay's summary).
	AuditOpsSubject = "ecm.audit._ops"
)

// BrokerUser is the broker's own user name on NATS; no participant or
// operator may take it.
const BrokerUser = "ecm-broker"

// Headers the broker adds beside the CloudEvent.
const (
	HeaderBasis     = "Ecm-Basis"           // a delivered copy's lawful basis
	HeaderRevision  = "Ecm-Policy-Revision" // the policy revision that decided
	HeaderReplay    = "Ecm-Replay"          // the replay that re-sent a copy
	HeaderSignature = "Ecm-Signature"       // a checkpoint's Ed25519 signature (base64) of its body
)

// Dotted turns a participant id ("leeds/pct") into subject tokens ("leeds.pct").
func Dotted(participant string) string { return strings.Replace(participant, "/", ".", 1) }

// undotted is Dotted's inverse for the first two tokens.
func undotted(tokens string) string { return strings.Replace(tokens, ".", "/", 1) }

// IngestSpace is the subject space where participant "<area>/<agency>"
// publishes: each event goes to IngestSpace + "." + the child's partition.
func IngestSpace(participant string) string { return ingestRoot + Dotted(participant) }

// IngestSubject is where participant publishes events about the child with
// the given UIN: its own subject space, one partition per group of children
// (uin.Partition), so that a child's events stay in order.
func IngestSubject(participant, child string) string {
	return IngestSpace(participant) + "." + uin.Partition(child)
}

// ParseIngestSubject returns the publishing participant of an ingest subject
// and its partition token ("" when there is none); publisher is "unknown"
// when the subject is not an ingest subject of the right shape.
func ParseIngestSubject(subject string) (publisher, partition string) {
	parts := strings.Split(strings.TrimPrefix(subject, ingestRoot), ".")
	if !strings.HasPrefix(subject, ingestRoot) || len(parts) < 2 || len(parts) > 3 {
		return "unknown", ""
	}
	if len(parts) == 3 {
		partition = parts[2]
	}
	return parts[0] + "/" + parts[1], partition
}

// PartitionToken is the subject token of partition p.
func PartitionToken(p int) string { return fmt.Sprintf("%02d", p) }

// PartitionConsumers lists the per-partition consumer names and their
// filters, in partition order.
func PartitionConsumers() (names, filters []string) {
	for p := 0; p < uin.Partitions; p++ {
		tok := PartitionToken(p)
		names = append(names, ConsumerPrefix+tok)
		filters = append(filters, ingestRoot+"*.*."+tok)
	}
	return names, filters
}

// ParticipantIngestSubjects are the subjects participant publishes events
// on: its bare subject (whose events are refused for want of a partition)
// and one per partition. Its NATS permissions allow exactly these.
func ParticipantIngestSubjects(participant string) []string {
	subs := []string{IngestSpace(participant)}
	for p := 0; p < uin.Partitions; p++ {
		subs = append(subs, IngestSpace(participant)+"."+PartitionToken(p))
	}
	return subs
}

// IngestStreamSubjects are the subjects of participant's own ingest stream:
// its bare subject and any one token below it. Two wildcards rather than the
// seventeen subjects above, because nats-server compares every subject of a
// new or updated stream with every subject of every other stream of the
// account: with 900 participants, seventeen subjects each made creating the
// streams take 20 s of CPU. A token that is not a partition is refused by
// the participant's permissions (ParticipantIngestSubjects); without
// isolation (development) such an event is stored but no partition consumer
// reads it.
func IngestStreamSubjects(participant string) []string {
	return []string{IngestSpace(participant), IngestSpace(participant) + ".*"}
}

// IngestConsumers lists the durable consumers of the ingest stream: one per
// partition, then the one for unrouted subjects.
func IngestConsumers() []string {
	names, _ := PartitionConsumers()
	return append(names, ConsumerUnrouted)
}

// IngestPartitionFilters are the ingest subjects of one partition (and the
// unrouted ones): where a child's events are.
func IngestPartitionFilters(partition string) []string {
	return []string{ingestRoot + "*.*." + partition, IngestUnrouted}
}

// DeliverySubject is where a participant's copies are stored.
func DeliverySubject(participant string) string { return deliverRoot + Dotted(participant) }

// ParseDeliverySubject returns the participant of a delivery subject.
func ParseDeliverySubject(subject string) (participant string, ok bool) {
	if !strings.HasPrefix(subject, deliverRoot) {
		return "", false
	}
	return undotted(strings.TrimPrefix(subject, deliverRoot)), true
}

// DeliveryConsumer is the durable pull consumer on ECM_DELIVERY through which
// participant id reads its deliveries over NATS ("deliver-leeds-pct").
func DeliveryConsumer(participant string) string {
	return "deliver-" + strings.ReplaceAll(participant, "/", "-")
}

// ParticipantAccount is the NATS account of participant id ("leeds/pct" →
// "leeds_pct"; an area slug has no '_', so names cannot collide).
func ParticipantAccount(participant string) string { return strings.ReplaceAll(participant, "/", "_") }

// AuditSubject holds the audit records of one child (by child key).
func AuditSubject(childKey string) string { return auditRoot + childKey }

// IsAuditSubject reports whether subject is in the audit stream.
func IsAuditSubject(subject string) bool { return strings.HasPrefix(subject, auditRoot) }

// DeadLetterSubject holds rejected input from one publisher ("http" when
// the publisher is not known).
func DeadLetterSubject(publisher string) string { return deadLetterRoot + Dotted(publisher) }

// UndeliveredSubject is where copies refused by a participant's delivery
// limit are kept, in ECM_DEADLETTER.
func UndeliveredSubject(participant string) string {
	return deadLetterRoot + "undelivered." + Dotted(participant)
}

// Message ids (Nats-Msg-Id). JetStream drops a second message with the same
// id inside the stream's duplicate window, so each id names exactly one thing.

// EventMsgID is the id an event is published under: its source and id.
func EventMsgID(source, id string) string { return source + "#" + id }

// DeliveryMsgID is the id of participant's copy of an event, so that a
// redelivered or replayed event's copy is stored once.
func DeliveryMsgID(source, id, participant string) string {
	return EventMsgID(source, id) + "@" + participant
}

// AuditMsgID is the id of the decision record of an event.
func AuditMsgID(source, id string) string { return "audit:" + EventMsgID(source, id) }

// AuditCopiesMsgID is the id of the record of what became of an event's
// copies, written once their publishes resolved.
func AuditCopiesMsgID(source, id string) string { return "audit-copies:" + EventMsgID(source, id) }

// AuditRejectedMsgID is the id of the record of a rejected input.
func AuditRejectedMsgID(rejectID string) string { return "audit-rejected:" + rejectID }

// AuditActionMsgID is the id of the record of an operator action (kind is
// replay, erasure, sar ...).
func AuditActionMsgID(kind, actionID string) string { return "audit-" + kind + ":" + actionID }

// DeadLetterMsgID is the id of a dead letter.
func DeadLetterMsgID(id string) string { return "dl:" + id }

// UndeliveredMsgID is the id of a refused copy kept in the dead letters.
func UndeliveredMsgID(copyMsgID string) string { return undeliveredPrefix + copyMsgID }

// ResolvedMsgID is the id of a refused copy's dead letter once a replay
// delivered the copy: it replaces the one under UndeliveredMsgID.
func ResolvedMsgID(copyMsgID string) string { return resolvedPrefix + copyMsgID }

// ParseUndeliveredMsgID returns the copy's message id of a dead letter kept
// under UndeliveredMsgID or ResolvedMsgID, and which of the two it is.
func ParseUndeliveredMsgID(id string) (copyMsgID string, resolved, ok bool) {
	if c, ok := strings.CutPrefix(id, resolvedPrefix); ok {
		return c, true, true
	}
	c, ok := strings.CutPrefix(id, undeliveredPrefix)
	return c, false, ok
}

const (
	undeliveredPrefix = "undelivered:"
	resolvedPrefix    = "undelivered-resolved:"
)

// Push delivery (broker/push): the broker POSTs a participant's copies to its
// webhook, reading them through a consumer of its own beside the
// participant's, and keeps what it gave up on in the dead letters.

// BucketPush holds, per participant with a webhook, the attempts made at the
// copy now being pushed (key: ParticipantAccount), so that failures, the next
// attempt's time and every attempt's status survive a restart.
const BucketPush = "ECM_PUSH"

// HeaderPushOf is, on a copy re-queued by a push retry, the message id of the
// copy first stored: the webhook-id is made from it, so a receiver sees the
// same webhook-id for the re-sent copy.
const HeaderPushOf = "Ecm-Push-Of"

// PushConsumer is the durable pull consumer on ECM_DELIVERY through which the
// broker pushes participant's copies to its webhook ("push-leeds-pct").
func PushConsumer(participant string) string {
	return "push-" + strings.ReplaceAll(participant, "/", "-")
}

// PushDeadLetterSubject is where the copies the broker gave up pushing to
// participant are kept, in ECM_DEADLETTER.
func PushDeadLetterSubject(participant string) string {
	return deadLetterRoot + "push." + Dotted(participant)
}

// PushGaveUpMsgID is the id of the dead letter of the copy stored at
// deliverySeq that the broker gave up pushing.
func PushGaveUpMsgID(deliverySeq uint64) string {
	return pushGaveUpPrefix + strconv.FormatUint(deliverySeq, 10)
}

// PushRequeuedMsgID is the id of that dead letter once a push retry re-queued
// its copy: it replaces the one under PushGaveUpMsgID.
func PushRequeuedMsgID(deliverySeq uint64) string {
	return pushRequeuedPrefix + strconv.FormatUint(deliverySeq, 10)
}

// ParsePushDeadLetterMsgID returns the delivery sequence of a push dead
// letter's id, and whether it was re-queued since.
func ParsePushDeadLetterMsgID(id string) (deliverySeq uint64, requeued, ok bool) {
	rest, found := strings.CutPrefix(id, pushRequeuedPrefix)
	if found {
		requeued = true
	} else if rest, found = strings.CutPrefix(id, pushGaveUpPrefix); !found {
		return 0, false, false
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	return seq, requeued, err == nil && seq > 0
}

// PushRequeueMsgID is the id of a copy re-queued from the dead letter of the
// copy stored at deliverySeq: a retry asked twice stores it once.
func PushRequeueMsgID(copyMsgID string, deliverySeq uint64) string {
	return copyMsgID + "#push-retry-" + strconv.FormatUint(deliverySeq, 10)
}

const (
	pushGaveUpPrefix   = "push-gaveup:"
	pushRequeuedPrefix = "push-requeued:"
)
