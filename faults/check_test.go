package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/aura-art/aura/worker"
)

// Redis keys the checks read (README, "Where state lives"), with the default prefix "aura".
const (
	verdictKeyPrefix = "{aura:t:" + tenant + "}:verdict:"
	caseKeyPattern   = "{aura:rev}:case:*"
	uploadLogKey     = "{aura:up}:log"
)

// outcome is what one scenario left behind, and what the checks made of it.
type outcome struct {
	Scenario, Fault      string
	Passed               bool
	Submitted, Good, Bad int
	SubmitRate           float64 // achieved, submissions/s
	SubmitRetries        int
	SubmitFailed         int

	Stored        int // verdict keys of good submissions
	StoredMissing []string
	StoredExtra   []string // verdict keys of ids that are not good submissions
	WrongVerdict  []string // stored verdict differs from the picture's expected one

	PubRaw, PubDistinct int
	PubMissing          []string
	PubDup              map[string]int // id -> messages beyond the first
	PubExtra            []string       // verdicts of ids that are not good submissions
	PubMismatch         []string       // published verdict differs from the stored one

	Flagged      int // good submissions whose stored verdict is flagged
	Cases        int // upload cases of the tenant
	CasesOther   int // cases of other kinds (disputes from registration, retro)
	CaseMissing  []string
	CaseDup      map[string]int
	CaseExtra    []string // cases of ids not flagged
	UploadLog    int      // entries in the upload log (a redelivery may add one; readers merge)
	UploadDistin int

	DeadRaw        int
	DeadMissing    []string
	DeadDup        map[string]int
	DeadUnexpected []string

	StreamMsgs, Pending uint64
	AckPending          int
	Drained             bool

	Elapsed     time.Duration      // first submission to drained
	WorkerNotes string             // counts of notable worker log lines
	Metrics     map[string]float64 // workers' counters: "redelivered" and submissions by outcome
	FaultNote   string             // what the fault hit, when known
	// ServerErrors summarises error lines in the servers' logs (none expected).
	ServerErrors []string
}

// lost counts submissions missing an outcome they must have.
func (o *outcome) lost() int {
	miss := map[string]bool{}
	for _, l := range [][]string{o.StoredMissing, o.PubMissing, o.CaseMissing, o.DeadMissing} {
		for _, id := range l {
			miss[id] = true
		}
	}
	return len(miss)
}

// duplicated counts outcomes beyond the one each submission must have.
func (o *outcome) duplicated() int {
	n := 0
	for _, m := range []map[string]int{o.PubDup, o.CaseDup, o.DeadDup} {
		for _, v := range m {
			n += v
		}
	}
	return n
}

// wrong counts outcomes that must not exist at all.
func (o *outcome) wrong() int {
	return len(o.StoredExtra) + len(o.WrongVerdict) + len(o.PubExtra) + len(o.PubMismatch) + len(o.CaseExtra) + len(o.DeadUnexpected)
}

func (o *outcome) ok() bool {
	return o.lost() == 0 && o.duplicated() == 0 && o.wrong() == 0 && o.Drained && o.SubmitFailed == 0 &&
		o.StreamMsgs == 0 && o.Pending == 0 && o.AckPending == 0
}

// verdictDoc is the part of a stored verdict the checks read.
type verdictDoc struct {
	SubmissionID string `json:"submission_id"`
	Verdict      struct {
		Verdict string `json:"verdict"`
	} `json:"verdict"`
}

// caseDoc is the part of a stored review case the checks read.
type caseDoc struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Tenant    string `json:"tenant"`
	SubjectID string `json:"subject_id"`
}

func flagged(kind string) bool { return kind == "likely_forgery" || kind == "derivative" }

// check compares what Redis and the streams hold with the plans; expected maps each pool
// picture to its verdict kind.
func check(ctx context.Context, rdb *redis.Client, js jetstream.JetStream, plans []plan, expected []string, o *outcome) error {
	good := map[string]plan{}
	bad := map[string]bool{}
	for _, p := range plans {
		if p.img < 0 {
			bad[p.id] = true
		} else {
			good[p.id] = p
		}
	}
	o.Good, o.Bad = len(good), len(bad)

	// Verdicts stored: SCAN the tenant's verdict keys, then read them.
	var keys []string
	it := rdb.Scan(ctx, 0, verdictKeyPrefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("scan verdicts: %w", err)
	}
	stored := map[string]string{} // id -> verdict kind
	for chunk := range chunks(keys, 500) {
		vals, err := rdb.MGet(ctx, chunk...).Result()
		if err != nil {
			return fmt.Errorf("read verdicts: %w", err)
		}
		for i, v := range vals {
			id := strings.TrimPrefix(chunk[i], verdictKeyPrefix)
			s, _ := v.(string)
			var d verdictDoc
			if err := json.Unmarshal([]byte(s), &d); err != nil || d.SubmissionID != id {
				o.WrongVerdict = append(o.WrongVerdict, id)
				continue
			}
			stored[id] = d.Verdict.Verdict
		}
	}
	for id, kind := range stored {
		p, ok := good[id]
		if !ok {
			o.StoredExtra = append(o.StoredExtra, id)
			continue
		}
		o.Stored++
		if kind != expected[p.img] {
			o.WrongVerdict = append(o.WrongVerdict, fmt.Sprintf("%s (%s, want %s)", id, kind, expected[p.img]))
		}
	}
	for id := range good {
		if _, ok := stored[id]; !ok {
			o.StoredMissing = append(o.StoredMissing, id)
		}
	}

	// Verdicts published: every message of the tenant in VERDICTS, by Nats-Msg-Id.
	pubs := map[string]int{}
	pubKind := map[string]string{}
	err := readStream(ctx, js, "VERDICTS", worker.VerdictPrefix+tenant+".>", func(m jetstream.Msg) {
		msgID := m.Headers().Get(jetstream.MsgIDHeader)
		if strings.HasPrefix(msgID, "retro/") {
			return // a retroactive verdict: none expected, no work is registered during the run
		}
		o.PubRaw++
		id := m.Headers().Get(worker.HeaderSubmissionID)
		if msgID != worker.MsgID(tenant, id) {
			id = "?" + msgID
		}
		pubs[id]++
		pubKind[id] = m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:]
	})
	if err != nil {
		return err
	}
	o.PubDistinct = len(pubs)
	o.PubDup = map[string]int{}
	for id, n := range pubs {
		if _, ok := good[id]; !ok {
			o.PubExtra = append(o.PubExtra, id)
			continue
		}
		if n > 1 {
			o.PubDup[id] = n - 1
		}
		if k, ok := stored[id]; ok && k != pubKind[id] {
			o.PubMismatch = append(o.PubMismatch, fmt.Sprintf("%s (published %s, stored %s)", id, pubKind[id], k))
		}
	}
	for id := range good {
		if pubs[id] == 0 {
			o.PubMissing = append(o.PubMissing, id)
		}
	}

	// Review cases: SCAN every case, keep the tenant's upload cases.
	var caseKeys []string
	it = rdb.Scan(ctx, 0, caseKeyPattern, 1000).Iterator()
	for it.Next(ctx) {
		caseKeys = append(caseKeys, it.Val())
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("scan cases: %w", err)
	}
	cases := map[string]int{}
	for chunk := range chunks(caseKeys, 200) {
		vals, err := rdb.MGet(ctx, chunk...).Result()
		if err != nil {
			return fmt.Errorf("read cases: %w", err)
		}
		for i, v := range vals {
			s, _ := v.(string)
			var c caseDoc
			if err := json.Unmarshal([]byte(s), &c); err != nil {
				return fmt.Errorf("case %s: %w", chunk[i], err)
			}
			if c.Kind != "upload" || c.Tenant != tenant {
				o.CasesOther++
				continue
			}
			o.Cases++
			cases[c.SubjectID]++
		}
	}
	o.CaseDup = map[string]int{}
	for id, n := range cases {
		if n > 1 {
			o.CaseDup[id] = n - 1
		}
		if !flagged(stored[id]) {
			o.CaseExtra = append(o.CaseExtra, id)
		}
	}
	for id, kind := range stored {
		if _, ok := good[id]; ok && flagged(kind) {
			o.Flagged++
			if cases[id] == 0 {
				o.CaseMissing = append(o.CaseMissing, id)
			}
		}
	}

	// The upload log, for the record: a redelivered submission may append twice by design.
	ups, err := rdb.XRange(ctx, uploadLogKey, "-", "+").Result()
	if err != nil {
		return fmt.Errorf("read upload log: %w", err)
	}
	o.UploadLog = len(ups)
	distinct := map[string]bool{}
	for _, u := range ups {
		r, _ := u.Values["r"].(string)
		if len(r) > 49 {
			distinct[r[49:]] = true // tenant, id and creator
		}
	}
	o.UploadDistin = len(distinct)

	// Dead letters: every message of the tenant in DEADLETTER.
	dead := map[string]int{}
	err = readStream(ctx, js, "DEADLETTER", worker.DeadLetterSubject(tenant), func(m jetstream.Msg) {
		o.DeadRaw++
		dead[m.Headers().Get(worker.HeaderSubmissionID)]++
	})
	if err != nil {
		return err
	}
	o.DeadDup = map[string]int{}
	for id, n := range dead {
		if !bad[id] {
			o.DeadUnexpected = append(o.DeadUnexpected, id)
			continue
		}
		if n > 1 {
			o.DeadDup[id] = n - 1
		}
	}
	for id := range bad {
		if dead[id] == 0 {
			o.DeadMissing = append(o.DeadMissing, id)
		}
	}

	// Nothing stuck.
	if err := idle(ctx, js, o); err != nil {
		return err
	}
	for _, l := range [][]string{o.StoredMissing, o.StoredExtra, o.WrongVerdict, o.PubMissing, o.PubExtra, o.PubMismatch, o.CaseMissing, o.CaseExtra, o.DeadMissing, o.DeadUnexpected} {
		sort.Strings(l)
	}
	return nil
}

// idle reads the submissions stream's message count and the consumer's pending counts into o.
func idle(ctx context.Context, js jetstream.JetStream, o *outcome) error {
	s, err := js.Stream(ctx, "SUBMISSIONS")
	if err != nil {
		return fmt.Errorf("stream SUBMISSIONS: %w", err)
	}
	si, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream SUBMISSIONS: %w", err)
	}
	c, err := s.Consumer(ctx, "workers")
	if err != nil {
		return fmt.Errorf("consumer workers: %w", err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("consumer workers: %w", err)
	}
	o.StreamMsgs, o.Pending, o.AckPending = si.State.Msgs, ci.NumPending, ci.NumAckPending
	return nil
}

// readStream reads every message of stream on subject with an ordered consumer (headers
// only), up to the stream's last sequence when it starts.
func readStream(ctx context.Context, js jetstream.JetStream, stream, subject string, fn func(jetstream.Msg)) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	si, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	var want uint64
	for _, n := range si.State.Subjects {
		want += n
	}
	if want == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy, HeadersOnly: true,
	})
	if err != nil {
		return fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	defer msgs.Stop()
	var got uint64
	for got < want {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := msgs.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			return fmt.Errorf("stream %s: read %d of %d messages: %w", stream, got, want, err)
		}
		got++
		fn(m)
		if meta, err := m.Metadata(); err == nil && meta.Sequence.Stream >= si.State.LastSeq {
			break
		}
	}
	if got != want {
		return errors.New("stream " + stream + ": read fewer messages than it holds")
	}
	return nil
}

// chunks yields s in slices of at most n.
func chunks(s []string, n int) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}
