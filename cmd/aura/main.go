// Command aura protects human-made art: it registers works, fingerprints uploads, matches
// them against the registry and says whether each is clear, the uploader's own work, a
// likely forgery or a derivative. Run "aura help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aura-art/aura/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio())
	stop()
	os.Exit(code)
}
