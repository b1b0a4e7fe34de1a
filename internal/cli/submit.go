package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aura-art/aura/fetch"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/worker"
)

func init() {
	register(command{name: "submit", summary: "submit pictures (files, directories or URLs) over NATS and print their verdicts", run: runSubmit})
}

const submitSynopsis = "[--json] [--tenant T] [--creator C] [--id ID] [--sync] FILE|DIR|URL..."

// submitOutput is one line of submit's --json output: the input, its submission id, and its
// verdict (the VerdictMessage's fields) or what kept it from one.
type submitOutput struct {
	Path string `json:"path"`
	*worker.VerdictMessage
	SubmissionID string `json:"submission_id"`
	// Duplicate reports that the submissions stream had a submission with this tenant and id
	// already, so this one was dropped; its verdict was published for the first.
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

func runSubmit(ctx context.Context, std IO, args []string) error {
	fs := newFlagSet(std, "submit", submitSynopsis)
	jsonOut := fs.Bool("json", false, "print one JSON verdict a line")
	tenant := fs.String("tenant", "cli", "tenant the submissions belong to")
	creator := fs.String("creator", "", "creator the uploader claims to be: a match of their own work is own_work")
	id := fs.String("id", "", "submission id (one input only); default: a random id per input")
	sync := fs.Bool("sync", false, "ask for synchronous checks (request-reply on --check-subject): nothing is stored or published")
	checkSubject := fs.String("check-subject", worker.CheckSubject, "subject of synchronous checks")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for the verdicts")
	maxInline := fs.Int64("max-inline-bytes", worker.DefaultConfig().MaxInlineBytes, "largest file sent inline, in bytes (the workers' cap); send larger images by URL")
	no := natsFlags(fs, defaultServeNATSURL)
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return fmt.Errorf("%w: no files or URLs given", errUsage)
	case *id != "" && fs.NArg() > 1:
		return fmt.Errorf("%w: --id takes one input", errUsage)
	case !index.ValidTenant(*tenant):
		return fmt.Errorf("%w: --tenant %q: want letters, digits, '-' or '_'", errUsage, *tenant)
	}
	inputs, err := expandPaths(fs.Args(), fetch.IsURL)
	if err != nil {
		return err
	}
	cc, err := no.config()
	if err != nil {
		return err
	}
	nc, err := worker.Connect(ctx, cc, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	client, err := worker.NewClient(nc, worker.ClientConfig{MaxInlineBytes: *maxInline, CheckSubject: *checkSubject})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var results chan any // *worker.VerdictMessage or *worker.DeadLetter
	if !*sync {
		stopWatch, ch, err := watchTenant(ctx, client, *tenant)
		if err != nil {
			return fmt.Errorf("%w (is \"aura serve\" or a worker running on %s?)", err, cc.URL)
		}
		defer stopWatch()
		results = ch
	}

	var failed, flagged int
	emit := func(out submitOutput) error {
		switch {
		case out.Error != "":
			failed++
		case out.VerdictMessage != nil && out.Flagged():
			flagged++
		}
		return printSubmitted(std, *jsonOut, out)
	}
	pending := map[string]string{} // submission id -> input
	for _, in := range inputs {
		sub := &worker.Submission{SchemaVersion: worker.SchemaVersion, ID: *id, Tenant: *tenant, Creator: *creator}
		if sub.ID == "" {
			sub.ID = newSubmissionID()
		}
		out := submitOutput{Path: in, SubmissionID: sub.ID}
		if fetch.IsURL(in) {
			sub.Image.URL = in
		} else if data, err := readImageFile(in, *maxInline); err != nil {
			out.Error = err.Error()
		} else if int64(len(data)) > *maxInline {
			out.Error = fmt.Sprintf("larger than --max-inline-bytes (%d): submit it by URL", *maxInline)
		} else {
			sub.Image.Data = data
		}
		if out.Error == "" {
			if *sync {
				v, err := client.Check(ctx, sub)
				out.VerdictMessage, out.Error = v, errorText(err)
			} else {
				dup, err := client.Submit(ctx, sub)
				switch {
				case err != nil:
					out.Error = err.Error()
				case dup:
					out.Duplicate = true
					out.Error = "a submission with this tenant and id was accepted before; its verdict was published then"
				default:
					pending[sub.ID] = in
					continue
				}
			}
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	for len(pending) > 0 {
		var r any
		select {
		case r = <-results:
		case <-ctx.Done():
		}
		if r == nil {
			break
		}
		var out submitOutput
		switch r := r.(type) {
		case *worker.VerdictMessage:
			out = submitOutput{SubmissionID: r.SubmissionID, VerdictMessage: r}
		case *worker.DeadLetter:
			out = submitOutput{SubmissionID: r.SubmissionID, Error: "dead-lettered: " + r.Reason}
		}
		in, ok := pending[out.SubmissionID]
		if !ok {
			continue // someone else's submission of the same tenant
		}
		delete(pending, out.SubmissionID)
		out.Path = in
		if err := emit(out); err != nil {
			return err
		}
	}
	for _, in := range inputs { // in input order
		for sid, p := range pending {
			if p == in {
				if err := emit(submitOutput{Path: in, SubmissionID: sid, Error: fmt.Sprintf("no verdict within %v (--timeout)", *timeout)}); err != nil {
					return err
				}
			}
		}
	}
	switch {
	case failed > 0:
		return exitError{1}
	case flagged > 0:
		return exitError{exitFlagged}
	}
	return nil
}

// watchTenant watches a tenant's verdicts and dead letters and sends them on the returned
// channel until ctx ends or stop is called; stop waits for the watching goroutines.
func watchTenant(ctx context.Context, client *worker.Client, tenant string) (stop func(), results chan any, err error) {
	vw, err := client.WatchVerdicts(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	dw, err := client.WatchDeadLetters(ctx, tenant)
	if err != nil {
		_ = vw.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	results = make(chan any)
	var wg sync.WaitGroup
	send := func(v any) bool {
		select {
		case results <- v:
			return true
		case <-ctx.Done():
			return false
		}
	}
	wg.Go(func() {
		for {
			v, err := vw.Next(ctx)
			if err != nil || !send(v) {
				return
			}
		}
	})
	wg.Go(func() {
		for {
			d, err := dw.Next(ctx)
			if err != nil || !send(d) {
				return
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		_ = vw.Close()
		_ = dw.Close()
	}, results, nil
}

// newSubmissionID returns "s_" and 16 random hex digits.
func newSubmissionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "s_" + hex.EncodeToString(b[:])
}

// printSubmitted prints one result: a JSON line, or a readable line (errors on stderr).
func printSubmitted(std IO, jsonOut bool, out submitOutput) error {
	if jsonOut {
		return jsonLine(std.Stdout, out)
	}
	if out.Error != "" {
		_, err := fmt.Fprintf(std.Stderr, "aura submit: %s (%s): %s\n", out.Path, out.SubmissionID, out.Error)
		return err
	}
	_, err := fmt.Fprintln(std.Stdout, verdictLine(out.Path, out.VerdictMessage))
	return err
}

// verdictLine is a verdict in one readable line: the kind, the input, and the best match.
func verdictLine(path string, v *worker.VerdictMessage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %s", v.Verdict, path)
	if len(v.Matches) > 0 {
		m := v.Matches[0]
		fmt.Fprintf(&b, ": %s", m.WorkID)
		if m.Title != "" {
			fmt.Fprintf(&b, " %q", m.Title)
		}
		fmt.Fprintf(&b, " by %s: %s", m.CreatorID, m.Description)
		if n := len(v.Matches) - 1; n > 0 {
			fmt.Fprintf(&b, " (+%d more)", n)
		}
	}
	return b.String()
}
