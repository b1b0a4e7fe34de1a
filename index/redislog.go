package index

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// SetRedisLogger sends the go-redis client's own log lines (dial failures and the like,
// otherwise printed to stderr) to log at warn level, named "redis", at most one a second;
// the lines dropped in between are counted in the next one's "suppressed" field. A nil log
// discards them. It is process-wide, as go-redis's logger is; call it once at start.
func SetRedisLogger(log *zap.Logger) {
	if log == nil {
		log = zap.NewNop()
	}
	redis.SetLogger(&redisLogger{log: log.Named("redis")})
}

// redisLogger adapts go-redis's logger to zap with a rate limit.
type redisLogger struct {
	log *zap.Logger

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn("redis client", zap.String("detail", fmt.Sprintf(format, v...)), zap.Int("suppressed", n))
}
