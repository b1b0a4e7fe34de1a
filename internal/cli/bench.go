package cli

import (
	"context"
	"time"

	"github.com/aura-art/aura/eval"
)

func init() {
	register(command{name: "bench", summary: "measure fingerprint speed against the naive pipeline; \"bench pipeline\": end to end over NATS", run: runBench})
}

func runBench(ctx context.Context, std IO, args []string) error {
	if len(args) > 0 && args[0] == "pipeline" {
		return runBenchPipeline(ctx, std, args[1:])
	}
	fs := newFlagSet(std, "bench", "[flags]")
	d := fs.Duration("duration", 3*time.Second, "how long each measurement runs")
	jsonOut := fs.Bool("json", false, "print JSON instead of a Markdown table")
	hc := hashingFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	h, err := hc()
	if err != nil {
		return err
	}
	rep, err := eval.Speed(ctx, eval.SpeedConfig{Hashing: h, Duration: *d})
	if err != nil {
		return err
	}
	if *jsonOut {
		return rep.WriteJSON(std.Stdout)
	}
	return rep.WriteMarkdown(std.Stdout)
}
