package index_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/aura-art/aura/index"
)

func TestMain(m *testing.M) {
	index.SetRedisLogger(nil) // the broken-store tests make go-redis log every failed dial
	goleak.VerifyTestMain(m,
		// After many failed dials go-redis probes the server in the background, sleeping 1s
		// between probes; it ends at its next wake-up once the client is closed.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
	)
}
