package index_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/index/storetest"
	"github.com/aura-art/aura/internal/redistest"
)

var prefixes atomic.Int64

// openRedis opens a store on the server under a fresh prefix, closed in t.Cleanup.
func openRedis(t testing.TB, addr string) *index.RedisStore {
	t.Helper()
	prefix := fmt.Sprintf("t%d", prefixes.Add(1))
	s, err := index.OpenRedis(context.Background(), index.RedisOptions{URL: "redis://" + addr, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func redisFactory(addr string) storetest.Factory {
	return storetest.Factory{
		Open: func(t *testing.T) index.Store { return openRedis(t, addr) },
		Broken: func(t *testing.T) index.Store {
			srv := redistest.StartServer(t)
			s := openRedis(t, srv.Addr)
			srv.Stop()
			return s
		},
	}
}

func TestRedisStore(t *testing.T) {
	storetest.Run(t, redisFactory(redistest.Start(t)))
}

// TestRedisCluster runs the suite on a one-node Redis Cluster, which refuses any command or
// script whose keys span hash slots: it proves the key layout cluster-safe. It runs with a
// plain client and with a cluster client (RedisOptions.Cluster).
func TestRedisCluster(t *testing.T) {
	srv := startCluster(t)
	openCluster := func(t *testing.T, addr string) index.Store {
		s, err := index.OpenRedis(context.Background(), index.RedisOptions{
			URL: "redis://" + addr, Cluster: true, Prefix: fmt.Sprintf("t%d", prefixes.Add(1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	t.Run("client", func(t *testing.T) { storetest.Run(t, redisFactory(srv.Addr)) })
	t.Run("cluster client", func(t *testing.T) {
		storetest.Run(t, storetest.Factory{
			Open: func(t *testing.T) index.Store { return openCluster(t, srv.Addr) },
			Broken: func(t *testing.T) index.Store {
				gone := startCluster(t)
				s := openCluster(t, gone.Addr)
				gone.Stop()
				return s
			},
		})
	})
}

// startCluster starts a one-node Redis Cluster that serves every slot.
func startCluster(t *testing.T) *redistest.Server {
	t.Helper()
	srv := redistest.StartServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	if _, err := redistest.Do(srv.Addr, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		// Before Redis 7.0: list every slot.
		args := []string{"CLUSTER", "ADDSLOTS"}
		for i := range 16384 {
			args = append(args, strconv.Itoa(i))
		}
		if _, err := redistest.Do(srv.Addr, args...); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := redistest.Do(srv.Addr, "CLUSTER", "INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok: %q, %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisKeys checks the documented key layout and that every key carries the hash tag.
func TestRedisKeys(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	s, err := index.OpenRedis(ctx, index.RedisOptions{URL: "redis://" + addr, Prefix: "lay"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := storetest.NewWork("alice")
	w.ID = "w_1"
	if _, err := s.CreateWork(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, "w_1", true); err != nil {
		t.Fatal(err)
	}
	d := &index.Dispute{ID: "d_1", WorkID: "w_1", ExistingWorkID: "w_0", CreatorID: "alice", ExistingCreatorID: "bob"}
	if err := s.CreateDispute(ctx, d); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"{lay:reg}:work:w_1":        "hash",
		"{lay:reg}:sha:" + w.SHA256: "string",
		"{lay:reg}:ids":             "zset",
		"{lay:reg}:creator:alice":   "zset",
		"{lay:reg}:seq":             "string",
		"{lay:reg}:feed":            "stream",
		"{lay:reg}:dispute:d_1":     "string",
		"{lay:reg}:disputes":        "zset",
		"{lay:reg}:dispute_seq":     "string",
	}
	if len(keys) != len(want) {
		t.Errorf("keys %q, want %d keys", keys, len(want))
	}
	for _, k := range keys {
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want[k] != typ {
			t.Errorf("key %q is a %s, want %q", k, typ, want[k])
		}
	}
	fields, err := rdb.HKeys(ctx, "{lay:reg}:work:w_1").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(fields)
	if got := strings.Join(fields, ","); got != "creator,disabled,fp,meta,sha,thumb" {
		t.Errorf("work hash fields %s", got)
	}
	if seq, _ := rdb.Get(ctx, "{lay:reg}:seq").Result(); seq != "2" {
		t.Errorf("seq = %q, want 2", seq)
	}
	ms, err := rdb.XRange(ctx, "{lay:reg}:feed", "-", "+").Result()
	if err != nil || len(ms) != 2 || ms[0].ID != "1-0" || ms[1].ID != "2-0" {
		t.Errorf("feed = %+v, %v; want entries 1-0 and 2-0", ms, err)
	}
}

// TestRedisCreateAllOrNothing makes the create script fail after its checks of the sha and
// id (a key it must write holds the wrong type) and checks that nothing was written.
func TestRedisCreateAllOrNothing(t *testing.T) {
	addr := redistest.Start(t)
	ctx := context.Background()
	s, err := index.OpenRedis(ctx, index.RedisOptions{URL: "redis://" + addr, Prefix: "aon"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()

	ok := storetest.NewWork("alice")
	if _, err := s.CreateWork(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "{aon:reg}:creator:mallory", "not a zset", 0).Err(); err != nil {
		t.Fatal(err)
	}
	w := storetest.NewWork("mallory")
	w.ID = "w_doomed"
	_, err = s.CreateWork(ctx, w)
	if err == nil || errors.Is(err, index.ErrExists) || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("CreateWork over a wrong-typed key: %v; want a WRONGTYPE error naming %s", err, addr)
	}
	for _, k := range []string{"{aon:reg}:work:w_doomed", "{aon:reg}:sha:" + w.SHA256} {
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Errorf("%s exists after a failed create", k)
		}
	}
	if n, _ := rdb.ZCard(ctx, "{aon:reg}:ids").Result(); n != 1 {
		t.Errorf("%d ids, want 1", n)
	}
	if n, _ := rdb.XLen(ctx, "{aon:reg}:feed").Result(); n != 1 {
		t.Errorf("%d feed entries, want 1", n)
	}
	if seq, _ := rdb.Get(ctx, "{aon:reg}:seq").Result(); seq != "1" {
		t.Errorf("seq = %q, want 1", seq)
	}
	if _, err := s.GetWork(ctx, "w_doomed"); !errors.Is(err, index.ErrNotFound) {
		t.Errorf("GetWork of the failed work: %v", err)
	}
}

func TestRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = index.OpenRedis(context.Background(), index.RedisOptions{URL: "redis://" + addr})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("OpenRedis on a closed port: %v; want an error naming %s", err, addr)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("OpenRedis on a closed port took %v", d)
	}
}

// TestRedisHung: a server that accepts connections but never answers gives an error within
// the timeouts, never a hang.
func TestRedisHung(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() { l.Close(); <-done }()
	start := time.Now()
	_, err = index.OpenRedis(context.Background(), index.RedisOptions{
		URL: "redis://" + l.Addr().String(), ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("OpenRedis on a silent server: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("OpenRedis on a silent server took %v", d)
	}
}

func TestRedisOptions(t *testing.T) {
	if err := index.DefaultRedisOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, tc := range []struct {
		opts index.RedisOptions
		want string
	}{
		{index.RedisOptions{URL: "http://x"}, "URL"},
		{index.RedisOptions{Prefix: "a{b}"}, "Prefix"},
		{index.RedisOptions{Prefix: "a b"}, "Prefix"},
		{index.RedisOptions{ReadTimeout: -1}, "ReadTimeout"},
		{index.RedisOptions{WaitSlice: -1}, "WaitSlice"},
		{index.RedisOptions{MaxRetries: -2}, "MaxRetries"},
	} {
		if err := tc.opts.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.opts, err, tc.want)
		}
	}
}

// openRedisBench opens a store on a private server for a benchmark.
func openRedisBench(b *testing.B) *index.RedisStore {
	return openRedis(b, redistest.Start(b))
}
