package wire

import (
	"testing"

	"github.com/ecm-broker/ecm-broker/uin"
)

func TestIngestSubjectsRoundTrip(t *testing.T) {
	const child = "9434765919"
	tests := []struct {
		name, subject, publisher, partition string
	}{
		{"partitioned", IngestSubject("leeds/pct", child), "leeds/pct", uin.Partition(child)},
		{"bare", IngestSpace("york/police"), "york/police", ""},
		{"too deep", "ecm.ingest.leeds.pct.00.x", "unknown", ""},
		{"too short", "ecm.ingest.leeds", "unknown", ""},
		{"another stream", "ecm.deliver.leeds.pct", "unknown", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub, part := ParseIngestSubject(tc.subject)
			if pub != tc.publisher || part != tc.partition {
				t.Errorf("ParseIngestSubject(%q) = %q, %q; want %q, %q", tc.subject, pub, part, tc.publisher, tc.partition)
			}
		})
	}
	if got := IngestSpace("leeds/pct"); got != "ecm.ingest.leeds.pct" {
		t.Errorf("IngestSpace = %q, want ecm.ingest.leeds.pct", got)
	}
}

func TestDeliverySubjectRoundTrip(t *testing.T) {
	s := DeliverySubject("leeds/la-social-care")
	if s != "ecm.deliver.leeds.la-social-care" {
		t.Fatalf("DeliverySubject = %q", s)
	}
	if p, ok := ParseDeliverySubject(s); !ok || p != "leeds/la-social-care" {
		t.Errorf("ParseDeliverySubject(%q) = %q, %v", s, p, ok)
	}
	if _, ok := ParseDeliverySubject(AuditSubject("abc")); ok {
		t.Error("an audit subject parsed as a delivery subject")
	}
}

func TestPartitionConsumersCoverEveryPartition(t *testing.T) {
	names, filters := PartitionConsumers()
	if len(names) != uin.Partitions || len(filters) != uin.Partitions {
		t.Fatalf("%d consumers, %d filters for %d partitions", len(names), len(filters), uin.Partitions)
	}
	if got := IngestConsumers(); got[len(got)-1] != ConsumerUnrouted || len(got) != uin.Partitions+1 {
		t.Errorf("IngestConsumers = %v", got)
	}
}

func TestMsgIDsNameOneThingEach(t *testing.T) {
	ids := []string{
		EventMsgID("/leeds/pct", "1"), DeliveryMsgID("/leeds/pct", "1", "leeds/lea"), AuditMsgID("/leeds/pct", "1"),
		AuditRejectedMsgID("ingest-1"), AuditActionMsgID("replay", "1"), DeadLetterMsgID("ingest-1"),
		UndeliveredMsgID(DeliveryMsgID("/leeds/pct", "1", "leeds/lea")),
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("message id %q used for two things", id)
		}
		seen[id] = true
	}
}

func TestUndeliveredMsgIDs(t *testing.T) {
	copyID := DeliveryMsgID("/leeds/pct", "e-1", "leeds/lea")
	for _, tc := range []struct {
		id       string
		resolved bool
		ok       bool
	}{
		{UndeliveredMsgID(copyID), false, true},
		{ResolvedMsgID(copyID), true, true},
		{DeadLetterMsgID("ingest-3"), false, false},
	} {
		got, resolved, ok := ParseUndeliveredMsgID(tc.id)
		if ok != tc.ok || resolved != tc.resolved || ok && got != copyID {
			t.Errorf("ParseUndeliveredMsgID(%q) = %q, %v, %v", tc.id, got, resolved, ok)
		}
	}
}
