package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aura-art/aura/review"
	"github.com/aura-art/aura/worker"
)

func init() {
	register(command{name: "dlq", summary: "list dead-lettered submissions, or replay them once their cause is fixed", run: runDLQ})
}

const dlqSynopsis = "list|replay [--tenant T] [--reason TEXT] [--json] [--dry-run] [--all | SEQ...]"

func runDLQ(ctx context.Context, std IO, args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(std.Stdout, "Usage: aura dlq "+dlqSynopsis+"\n\n  list    print the dead letters, oldest first\n  replay  publish dead letters again on their submission subject and remove them")
			return nil
		}
		return fmt.Errorf("%w: want list or replay", errUsage)
	}
	sub := args[0]
	fs := newFlagSet(std, "dlq "+sub, strings.TrimPrefix(dlqSynopsis, "list|replay "))
	tenant := fs.String("tenant", "", "only this tenant's dead letters (default: all)")
	reason := fs.String("reason", "", "only dead letters whose reason contains this text")
	jsonOut := fs.Bool("json", false, "print one JSON object a line")
	dryRun := fs.Bool("dry-run", false, "replay: print what would be replayed, change nothing")
	all := fs.Bool("all", false, "replay: every dead letter selected by --tenant and --reason")
	timeout := fs.Duration("timeout", time.Minute, "time limit of the whole command")
	no := natsFlags(fs, defaultServeNATSURL)
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	var seqs map[uint64]bool
	switch {
	case sub == "list" && (fs.NArg() > 0 || *all || *dryRun):
		return fmt.Errorf("%w: list takes only --tenant, --reason and --json", errUsage)
	case sub == "replay" && *all == (fs.NArg() > 0):
		return fmt.Errorf("%w: replay wants --all or dead-letter sequence numbers (from aura dlq list)", errUsage)
	case sub == "replay" && !*all:
		seqs = map[uint64]bool{}
		for _, a := range fs.Args() {
			n, err := strconv.ParseUint(a, 10, 64)
			if err != nil || n == 0 {
				return fmt.Errorf("%w: %q is not a dead-letter sequence number", errUsage, a)
			}
			seqs[n] = true
		}
	}
	cc, err := no.config()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, err := worker.Connect(ctx, cc, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	client, err := worker.NewClient(nc, worker.ClientConfig{})
	if err != nil {
		return err
	}
	var picked []worker.StoredDeadLetter
	err = client.DeadLetters(ctx, *tenant, func(d worker.StoredDeadLetter) error {
		if (*reason == "" || strings.Contains(d.Reason, *reason)) && (seqs == nil || seqs[d.Seq]) {
			picked = append(picked, d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if sub == "list" || *dryRun {
		return printDeadLetters(std, picked, *jsonOut)
	}
	failed := 0
	for _, d := range picked {
		if _, err := client.ReplayDeadLetter(ctx, d.Seq); err != nil {
			failed++
			fmt.Fprintf(std.Stderr, "aura dlq: %v\n", err)
			continue
		}
		fmt.Fprintf(std.Stdout, "replayed %d: %s/%s\n", d.Seq, d.Tenant, d.SubmissionID)
	}
	for s := range seqs {
		if !containsSeq(picked, s) {
			failed++
			fmt.Fprintf(std.Stderr, "aura dlq: no dead letter %d (of the tenant and reason given)\n", s)
		}
	}
	if failed > 0 {
		return exitError{code: 1}
	}
	return nil
}

func containsSeq(list []worker.StoredDeadLetter, seq uint64) bool {
	for _, d := range list {
		if d.Seq == seq {
			return true
		}
	}
	return false
}

func printDeadLetters(std IO, list []worker.StoredDeadLetter, jsonOut bool) error {
	if jsonOut {
		enc := json.NewEncoder(std.Stdout)
		for _, d := range list {
			if err := enc.Encode(map[string]any{
				"seq": d.Seq, "tenant": d.Tenant, "submission_id": d.SubmissionID, "reason": d.Reason,
				"subject": d.Subject, "deliveries": d.Deliveries, "failed_at": d.FailedAt, "bytes": len(d.Data),
			}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(std.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTENANT\tSUBMISSION\tFAILED AT\tDELIVERIES\tREASON")
	for _, d := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", d.Seq, d.Tenant, d.SubmissionID, d.FailedAt.Format(time.RFC3339), d.Deliveries, review.ClipText(d.Reason, 120))
	}
	return tw.Flush()
}
