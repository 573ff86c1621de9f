package wire

import (
	"slices"
	"strings"
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

func TestParticipantIngestStream(t *testing.T) {
	if got := IngestStream("leeds/la-social-care"); got != "ECM_IN_leeds_la-social-care" {
		t.Errorf("IngestStream = %q", got)
	}
	subs := ParticipantIngestSubjects("york/pct")
	if len(subs) != uin.Partitions+1 || subs[0] != "ecm.ingest.york.pct" || subs[1] != "ecm.ingest.york.pct.00" {
		t.Fatalf("ParticipantIngestSubjects = %v", subs)
	}
	stream := IngestStreamSubjects("york/pct")
	for _, s := range subs {
		if pub, _ := ParseIngestSubject(s); pub != "york/pct" {
			t.Errorf("%s parses as %q", s, pub)
		}
		if !slices.ContainsFunc(stream, func(f string) bool { return matches(f, s) }) {
			t.Errorf("%s is in no subject of the participant's stream %v", s, stream)
		}
	}
	if slices.ContainsFunc(stream, func(f string) bool { return matches(f, IngestSubject("york/police", "9434765919")) }) {
		t.Errorf("york/pct's stream %v takes york/police's events", stream)
	}
}

// matches reports whether subject s matches filter f, whose tokens may be *.
func matches(f, s string) bool {
	ft, st := strings.Split(f, "."), strings.Split(s, ".")
	if len(ft) != len(st) {
		return false
	}
	for i := range ft {
		if ft[i] != "*" && ft[i] != st[i] {
			return false
		}
	}
	return true
}

func TestParseSourced(t *testing.T) {
	tests := []struct {
		name, value, stream string
		seq                 uint64
		ok                  bool
	}{
		{"2.10 form", "ECM_IN_leeds_pct 42 > > ecm.ingest.leeds.pct.03", "ECM_IN_leeds_pct", 42, true},
		{"with identity", "ECM_IN_leeds_pct 7 > > ecm.ingest.leeds.pct.03 abc", "ECM_IN_leeds_pct", 7, true},
		{"no sequence", "ECM_IN_leeds_pct", "", 0, false},
		{"bad sequence", "ECM_IN_leeds_pct x > >", "", 0, false},
		{"empty", "", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream, seq, ok := ParseSourced(tc.value)
			if stream != tc.stream || seq != tc.seq || ok != tc.ok {
				t.Errorf("ParseSourced(%q) = %q, %d, %v", tc.value, stream, seq, ok)
			}
		})
	}
}
