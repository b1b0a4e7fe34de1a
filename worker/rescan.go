package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/verdict"
)

// Distributed rescans.
//
// "aura rescan --via-nats" publishes each archived picture as a Submission on
// "aura.rescan.<tenant>" (stream RESCANS) with the headers Aura-Rescan-Run (the run's id) and
// Aura-Rescan-Source (the path or URL, for the case). Workers take these jobs through the
// consumer "rescanners" at lower priority than submissions: at most
// Config.RescanConcurrency at once, and only while the submissions leave a slot free. A job
// is fetched (URL) and checked like a submission; a flagged one opens a review case of kind
// rescan; no verdict is stored and nothing enters the upload log (an archived picture is
// not an upload). Its RescanResult is published on "aura.rescanned.<run>" (stream
// RESCAN_RESULTS) before the job is acked, so a rescan that stops and resumes finds the
// results it missed.

// Headers of rescan jobs. A job also carries HeaderTenant and HeaderSubmissionID, so that
// even a job that cannot be read gets a result its rescan can match.
const (
	HeaderRescanRun    = "Aura-Rescan-Run"
	HeaderRescanSource = "Aura-Rescan-Source"
)

// validRun matches a rescan run id: one subject token.
var validRun = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// RescanSubject is the subject of a tenant's rescan jobs.
func RescanSubject(tenant string) string { return RescanPrefix + tenant }

// RescanResultSubject is the subject of a run's results.
func RescanResultSubject(run string) string { return RescanResultPrefix + run }

// RescanResult is what a worker found for one rescan job (JSON, schema version 1).
type RescanResult struct {
	SchemaVersion int    `json:"schema_version"`
	Run           string `json:"run"`
	Tenant        string `json:"tenant"`
	SubmissionID  string `json:"submission_id"`
	// Verdict is set when the picture was checked.
	Verdict *verdict.Verdict `json:"verdict,omitempty"`
	// CaseID is the review case a flagged picture opened.
	CaseID string `json:"case_id,omitempty"`
	// Error says why the picture could not be checked (undecodable, too large, a URL that
	// failed every try, ...).
	Error    string `json:"error,omitempty"`
	WorkerID string `json:"worker_id"`
}

// consumeRescans takes rescan jobs while ctx lasts, at most RescanConcurrency at once and
// only while the submissions leave a slot free, each on its own goroutine tracked by tr.
func (w *Worker) consumeRescans(ctx, workCtx context.Context, cons jetstream.Consumer, tr *tracker) {
	sem := make(chan struct{}, w.cfg.RescanConcurrency)
	limit := errLogLimiter{log: w.log, every: 30 * time.Second}
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		for w.live.Load() >= int64(w.cfg.Concurrency) { // submissions first
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		got := false
		if err == nil {
			for m := range batch.Messages() {
				got = true
				tr.start()
				go func() {
					defer func() { <-sem; tr.done() }()
					w.handleRescan(workCtx, m)
				}()
			}
			err = batch.Error()
		}
		if !got {
			<-sem
		}
		if !pulled(ctx, &limit, "rescan pull failed", err) {
			return
		}
	}
}

// handleRescan works on one rescan job and settles it: its result is published, then it is
// acked; a transient failure before the last delivery is retried instead.
func (w *Worker) handleRescan(ctx context.Context, m jetstream.Msg) {
	deliveries := uint64(1)
	if meta, err := m.Metadata(); err == nil {
		deliveries = meta.NumDelivered
	}
	run := m.Headers().Get(HeaderRescanRun)
	log := w.log.With(zap.String("rescan_run", run), zap.Uint64("deliveries", deliveries))
	if !validRun.MatchString(run) {
		log.Warn("rescan job without a run: dropped", zap.String("subject", m.Subject()))
		_ = m.TermWithReason("no valid " + HeaderRescanRun + " header")
		return
	}
	stop := w.keepAlive(m)
	res, err := w.rescanJob(ctx, m, run)
	stop()
	if err != nil && !Permanent(err) && deliveries < rescanMaxDeliver {
		if ctx.Err() != nil {
			_ = m.Nak()
			return
		}
		delay := w.backoff(deliveries)
		log.Warn("rescan retry", zap.Error(err), zap.Duration("delay", delay))
		_ = m.NakWithDelay(delay)
		return
	}
	if err != nil {
		res.Error = err.Error()
	}
	body, _ := json.Marshal(res)
	msg := nats.NewMsg(RescanResultSubject(run))
	msg.Data = body
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.PublishTimeout)
	defer cancel()
	_, perr := w.js.PublishMsg(pctx, msg, jetstream.WithMsgID("rescanned/"+run+"/"+MsgID(res.Tenant, res.SubmissionID)),
		jetstream.WithExpectStream(w.cfg.Streams.RescanResults))
	if perr != nil {
		log.Warn("rescan result not published; retrying", zap.Error(perr))
		_ = m.NakWithDelay(w.backoff(deliveries))
		return
	}
	_ = m.Ack()
}

// rescanJob checks one rescan job and opens its case when flagged.
func (w *Worker) rescanJob(ctx context.Context, m jetstream.Msg, run string) (*RescanResult, error) {
	res := &RescanResult{SchemaVersion: SchemaVersion, Run: run, WorkerID: w.cfg.ID,
		Tenant: m.Headers().Get(HeaderTenant), SubmissionID: m.Headers().Get(HeaderSubmissionID)}
	sub, err := DecodeSubmission(m.Data(), w.cfg.MaxInlineBytes)
	if err != nil {
		return res, err
	}
	res.Tenant, res.SubmissionID = sub.Tenant, sub.ID
	data := sub.Image.Data
	if sub.Image.URL != "" {
		if data, err = w.fetcher.Fetch(ctx, sub.Image.URL); err != nil {
			return res, err
		}
	}
	cr, err := w.checker.CheckImage(ctx, data, sub.Creator)
	if err != nil {
		return res, err
	}
	v := cr.Verdict
	res.Verdict = &v
	if v.Flagged() && w.cases != nil {
		source := m.Headers().Get(HeaderRescanSource)
		if source == "" {
			source = sub.Image.URL
		}
		c, err := w.cases.OpenUpload(ctx, review.Flagged{
			Kind: review.Rescan, Tenant: sub.Tenant, SubmissionID: sub.ID, ClaimedCreator: sub.Creator,
			Source: source, Data: data, Fingerprint: cr.Fingerprint, Orientation: cr.Orientation, Verdict: v,
		})
		if err != nil {
			return res, fmt.Errorf("open case: %w", err)
		}
		res.CaseID = c.ID
	}
	return res, nil
}
