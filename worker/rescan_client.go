package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RescanJob is one archived picture for a distributed rescan: inline bytes or a URL.
type RescanJob struct {
	Tenant, ID, Creator string
	// Source names the picture for its review case (a path or URL).
	Source string
	URL    string
	Data   []byte
}

// RescanClient publishes the jobs of one rescan run and waits for their results. A run is
// resumable: a client opened again with the same run id first reads every result already
// published, and Check returns those without publishing the job again. It is safe for
// concurrent use; Close it.
type RescanClient struct {
	js      jetstream.JetStream
	run     string
	streams StreamsConfig
	maxIn   int64

	mu      sync.Mutex
	results map[string]*RescanResult      // arrived, not yet asked for
	waiters map[string]chan *RescanResult // asked for, not yet arrived
	it      jetstream.MessagesContext
	done    chan struct{}
}

// NewRescanClient opens run on nc (which the caller owns): it reads the results the run has
// already (so a resumed run does not redo them), then follows new ones. The streams must
// exist (a worker sets them up). maxInline caps
// inline pictures (the workers' MaxInlineBytes).
func NewRescanClient(ctx context.Context, nc *nats.Conn, streams StreamsConfig, run string, maxInline int64) (*RescanClient, error) {
	if !validRun.MatchString(run) {
		return nil, fmt.Errorf("worker: rescan run %q: want 1 to 64 letters, digits, '-' or '_'", run)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("worker: rescan: %w", err)
	}
	c := &RescanClient{js: js, run: run, streams: streams, maxIn: maxInline,
		results: map[string]*RescanResult{}, waiters: map[string]chan *RescanResult{}, done: make(chan struct{})}
	stream, err := js.Stream(ctx, streams.RescanResults)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("worker: no stream %s: start a worker (it sets up the streams) before a distributed rescan", streams.RescanResults)
	}
	if err != nil {
		return nil, fmt.Errorf("worker: rescan results: %w", err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(RescanResultSubject(run)))
	if err != nil {
		return nil, fmt.Errorf("worker: rescan results: %w", err)
	}
	earlier := info.State.Subjects[RescanResultSubject(run)]
	cons, err := js.OrderedConsumer(ctx, streams.RescanResults, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{RescanResultSubject(run)},
	})
	if err != nil {
		return nil, fmt.Errorf("worker: rescan results: %w", err)
	}
	if c.it, err = cons.Messages(); err != nil {
		return nil, fmt.Errorf("worker: rescan results: %w", err)
	}
	loaded := make(chan struct{})
	go c.follow(earlier, loaded)
	select {
	case <-loaded:
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// follow reads results until Close, closing loaded once the earlier ones are in.
func (c *RescanClient) follow(earlier uint64, loaded chan struct{}) {
	defer close(c.done)
	if earlier == 0 {
		close(loaded)
	}
	n := uint64(0)
	for {
		m, err := c.it.Next()
		if err != nil {
			if n < earlier {
				close(loaded)
			}
			return
		}
		_ = m.Ack()
		pending := uint64(1)
		if md, err := m.Metadata(); err == nil {
			pending = md.NumPending
		}
		var r RescanResult
		if json.Unmarshal(m.Data(), &r) == nil {
			key := MsgID(r.Tenant, r.SubmissionID)
			c.mu.Lock()
			if ch, ok := c.waiters[key]; ok {
				delete(c.waiters, key)
				ch <- &r
			} else {
				c.results[key] = &r
			}
			c.mu.Unlock()
		}
		// Loaded once the earlier results are read, or none is left (some aged out).
		if n++; n == earlier || (n < earlier && pending == 0) {
			close(loaded)
			earlier = 0 // closed; n never equals it again
		}
	}
}

// Check returns the result of job: one published before in this run, or the result of
// publishing it now (message id "rescan/<run>/<tenant>/<id>", so a republished job still
// queued is dropped as a duplicate) and waiting for a worker, until ctx ends.
func (c *RescanClient) Check(ctx context.Context, job RescanJob) (*RescanResult, error) {
	sub := &Submission{SchemaVersion: SchemaVersion, ID: job.ID, Tenant: job.Tenant, Creator: job.Creator,
		Image: Image{URL: job.URL, Data: job.Data}}
	if err := sub.Validate(c.maxIn); err != nil {
		return nil, err
	}
	key := MsgID(job.Tenant, job.ID)
	ch := make(chan *RescanResult, 1)
	c.mu.Lock()
	if r, ok := c.results[key]; ok {
		delete(c.results, key)
		c.mu.Unlock()
		return r, nil
	}
	c.waiters[key] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, key)
		c.mu.Unlock()
	}()
	body, err := json.Marshal(sub)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(RescanSubject(job.Tenant))
	msg.Data = body
	msg.Header.Set(HeaderRescanRun, c.run)
	msg.Header.Set(HeaderTenant, job.Tenant)
	msg.Header.Set(HeaderSubmissionID, job.ID)
	if job.Source != "" {
		msg.Header.Set(HeaderRescanSource, job.Source)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = c.js.PublishMsg(pctx, msg, jetstream.WithMsgID("rescan/"+c.run+"/"+key), jetstream.WithExpectStream(c.streams.Rescans))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("worker: publish rescan job %s: %w", key, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("worker: rescan job %s: %w", key, ctx.Err())
	case <-c.done:
		return nil, errors.New("worker: rescan client closed")
	}
}

// Close stops following results.
func (c *RescanClient) Close() {
	c.it.Stop()
	<-c.done
}
