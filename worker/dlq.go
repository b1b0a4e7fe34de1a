package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StoredDeadLetter is a dead letter with its place in the dead-letter stream.
type StoredDeadLetter struct {
	DeadLetter
	// Seq is its sequence in the dead-letter stream (the handle of ReplayDeadLetter).
	Seq uint64
	// FailedAt is when it was dead-lettered.
	FailedAt time.Time
}

func storedDeadLetter(seq uint64, h nats.Header, data []byte) StoredDeadLetter {
	n, _ := strconv.Atoi(h.Get(HeaderDeliveries))
	at, _ := time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt))
	return StoredDeadLetter{Seq: seq, FailedAt: at, DeadLetter: DeadLetter{
		Tenant: h.Get(HeaderTenant), SubmissionID: h.Get(HeaderSubmissionID), Reason: h.Get(HeaderReason),
		Subject: h.Get(HeaderOriginalSubject), Deliveries: n, Data: data,
	}}
}

// DeadLetters calls fn with every dead letter stored (of tenant, or of all tenants when
// tenant is ""), oldest first, until fn returns an error, which DeadLetters returns.
func (c *Client) DeadLetters(ctx context.Context, tenant string, fn func(StoredDeadLetter) error) error {
	filter := DeadLetterPrefix + ">"
	if tenant != "" {
		filter = DeadLetterSubject(tenant)
	}
	stream, err := c.js.Stream(ctx, c.cfg.DeadLetterStream)
	if err != nil {
		return fmt.Errorf("worker: dead letters: %w", err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return fmt.Errorf("worker: dead letters: %w", err)
	}
	total := uint64(0)
	for _, n := range info.State.Subjects {
		total += n
	}
	if total == 0 {
		return nil
	}
	cons, err := c.js.OrderedConsumer(ctx, c.cfg.DeadLetterStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return fmt.Errorf("worker: dead letters: %w", err)
	}
	for read := uint64(0); read < total; {
		// Each batch's context ends with the batch, so no fetch outlives the listing.
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, last, err := readDeadLetters(fctx, cons, fn)
		cancel()
		if err != nil || last || n == 0 { // n == 0: removed meanwhile (replayed, or aged out)
			return err
		}
		read += uint64(n)
	}
	return nil
}

// readDeadLetters reads one batch of dead letters and reports how many it read and whether
// the last of them was the last pending.
func readDeadLetters(ctx context.Context, cons jetstream.Consumer, fn func(StoredDeadLetter) error) (int, bool, error) {
	batch, err := cons.Fetch(100, jetstream.FetchContext(ctx))
	if err != nil {
		return 0, false, fmt.Errorf("worker: dead letters: %w", err)
	}
	got := 0
	for m := range batch.Messages() {
		got++
		md, err := m.Metadata()
		if err != nil {
			return got, false, fmt.Errorf("worker: dead letters: %w", err)
		}
		if err := fn(storedDeadLetter(md.Sequence.Stream, m.Headers(), m.Data())); err != nil {
			return got, false, err
		}
		if md.NumPending == 0 {
			return got, true, nil
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return got, false, fmt.Errorf("worker: dead letters: %w", err)
	}
	return got, false, nil
}

// ReplayDeadLetter publishes the dead letter at seq again on the subject it was submitted
// on, with its original body and headers, waits for the submissions stream's ack, and then
// deletes it from the dead-letter stream. The message id "replay/<dead-letter seq>" makes a
// retried replay a duplicate the submissions stream drops. Only submissions (subjects
// under SubmitPrefix) are replayed.
func (c *Client) ReplayDeadLetter(ctx context.Context, seq uint64) (*StoredDeadLetter, error) {
	stream, err := c.js.Stream(ctx, c.cfg.DeadLetterStream)
	if err != nil {
		return nil, fmt.Errorf("worker: replay: %w", err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("worker: replay dead letter %d: %w", seq, err)
	}
	dl := storedDeadLetter(seq, raw.Header, raw.Data)
	if !strings.HasPrefix(dl.Subject, SubmitPrefix) {
		return &dl, fmt.Errorf("worker: replay dead letter %d: its subject %q is not a submission subject", seq, dl.Subject)
	}
	msg := nats.NewMsg(dl.Subject)
	msg.Data = raw.Data
	for k, vs := range raw.Header {
		if !strings.HasPrefix(k, "Aura-") && !strings.HasPrefix(k, "Nats-") {
			msg.Header[k] = append([]string(nil), vs...)
		}
	}
	if _, err := c.js.PublishMsg(ctx, msg, jetstream.WithMsgID("replay/"+strconv.FormatUint(seq, 10))); err != nil {
		return &dl, fmt.Errorf("worker: replay dead letter %d: %w", seq, err)
	}
	if err := stream.DeleteMsg(ctx, seq); err != nil {
		return &dl, fmt.Errorf("worker: replayed dead letter %d but could not delete it: %w", seq, err)
	}
	return &dl, nil
}
