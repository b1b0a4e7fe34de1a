package index_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/index/storetest"
	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/internal/redistest"
	"github.com/aura-art/aura/verdict"
)

var aclFile = filepath.Join("..", "deploy", "redis-aura.acl")

// TestRedisACLContract runs the store's contract suite as the ACL user of
// deploy/redis-aura.acl (its key pattern widened to the suite's many prefixes): every
// command the store sends, in scripts too, is one the ACL allows.
func TestRedisACLContract(t *testing.T) {
	srv := redistest.StartACL(t, aclFile, map[string]string{">CHANGE-ME": ">acl-secret", "~{aura:*": "~*"})
	open := func(t *testing.T, addr string) index.Store {
		s, err := index.OpenRedis(context.Background(), index.RedisOptions{
			URL: "redis://aura:acl-secret@" + addr, Prefix: "p" + strings.ReplaceAll(t.Name(), "/", "_"),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T) index.Store { return open(t, srv.Addr) },
		Broken: func(t *testing.T) index.Store {
			down := redistest.StartACL(t, aclFile, map[string]string{">CHANGE-ME": ">acl-secret", "~{aura:*": "~*"})
			s := open(t, down.Addr)
			down.Stop()
			return s
		},
	})
}

// TestRedisACLKeys checks the ACL's key pattern: the user works under the prefix "aura"
// (registry, verdicts, upload log) and is refused under another.
func TestRedisACLKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.StartACL(t, aclFile, map[string]string{">CHANGE-ME": ">acl-secret"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(prefix string) *index.RedisStore {
		s, err := index.OpenRedis(ctx, index.RedisOptions{URL: "redis://aura:acl-secret@" + srv.Addr, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s := open("aura")
	m := index.NewMatcher()
	reg, err := index.NewRegistry(s, m, index.DefaultRegistryConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, imgtest.Photo(320, 240, 4), index.WorkMeta{CreatorID: "alice"}); err != nil {
		t.Fatalf("register as the ACL user: %v", err)
	}
	if _, _, err := s.PutVerdict(ctx, &index.VerdictRecord{Tenant: "shop", SubmissionID: "up-1", Verdict: verdict.Verdict{Verdict: verdict.Clear}}); err != nil {
		t.Fatalf("put verdict as the ACL user: %v", err)
	}
	img, _ := hashing.DefaultConfig().Decode(imgtest.Photo(320, 240, 5))
	rec, _ := index.NewUploadRecord("shop", "up-1", "", img.Fingerprint(hashing.Query))
	if err := s.AppendUpload(ctx, &rec); err != nil {
		t.Fatalf("append upload as the ACL user: %v", err)
	}
	if _, err := s.Uploads(ctx, 0, 10); err != nil {
		t.Fatal(err)
	}
	evil := open("evil")
	if _, _, err := evil.PutVerdict(ctx, &index.VerdictRecord{Tenant: "shop", SubmissionID: "up-1", Verdict: verdict.Verdict{Verdict: verdict.Clear}}); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("put verdict under another prefix = %v, want NOPERM", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "aura", Password: "acl-secret"})
	defer rdb.Close()
	for _, cmd := range [][]any{{"FLUSHALL"}, {"KEYS", "*"}, {"CONFIG", "GET", "dir"}, {"SUBSCRIBE", "x"}} {
		if err := rdb.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%v as the ACL user = %v, want NOPERM", cmd, err)
		}
	}
}
