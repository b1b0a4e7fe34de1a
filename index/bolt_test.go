package index_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/index/storetest"
)

// openBolt opens a store in a new file of a temporary directory, without fsync (durability
// is TestBoltReopen's business), closed in t.Cleanup.
func openBolt(t testing.TB, opts index.BoltOptions) *index.BoltStore {
	t.Helper()
	s, err := index.OpenBolt(filepath.Join(t.TempDir(), "aura.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBoltStore(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T) index.Store { return openBolt(t, index.BoltOptions{NoSync: true}) },
		Broken: func(t *testing.T) index.Store {
			s := openBolt(t, index.BoltOptions{NoSync: true})
			_ = s.Close()
			return s
		},
	})
}

func TestBoltReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aura.db")
	s, err := index.OpenBolt(path, index.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.CreateWork(ctx, storetest.NewWork("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, w.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = index.OpenBolt(path, index.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetWork(ctx, w.ID)
	if err != nil || !got.Disabled || got.SHA256 != w.SHA256 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	w2, err := s.CreateWork(ctx, storetest.NewWork("bob"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.Changes(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[2].Seq <= cs[1].Seq || cs[2].WorkID != w2.ID {
		t.Errorf("changes after reopen: %+v; want the seq to continue", cs)
	}
}

func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aura.db")
	s, err := index.OpenBolt(path, index.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = index.OpenBolt(path, index.BoltOptions{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, index.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "store is locked by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should say the store is locked and name the file", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second open took %v with a 200ms timeout", d)
	}
}

func TestBoltOptions(t *testing.T) {
	if err := index.DefaultBoltOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (index.BoltOptions{LockTimeout: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "LockTimeout") {
		t.Errorf("negative LockTimeout: %v", err)
	}
	if _, err := index.OpenBolt(filepath.Join(t.TempDir(), "no", "such", "dir", "aura.db"), index.BoltOptions{}); err == nil {
		t.Error("OpenBolt in a missing directory: no error")
	}
}

func BenchmarkCreateWork(b *testing.B) {
	b.Run("bolt", func(b *testing.B) { benchCreate(b, openBolt(b, index.BoltOptions{})) })
	b.Run("bolt-nosync", func(b *testing.B) { benchCreate(b, openBolt(b, index.BoltOptions{NoSync: true})) })
	b.Run("redis", func(b *testing.B) { benchCreate(b, openRedisBench(b)) })
}

func BenchmarkLoadWorks(b *testing.B) {
	b.Run("bolt", func(b *testing.B) { benchLoad(b, openBolt(b, index.BoltOptions{NoSync: true})) })
	b.Run("redis", func(b *testing.B) { benchLoad(b, openRedisBench(b)) })
}

func benchCreate(b *testing.B, s index.Store) {
	ctx := context.Background()
	base := storetest.NewWork("alice")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w := *base
		w.SHA256 = fmt.Sprintf("%064x", i)
		i++
		if _, err := s.CreateWork(ctx, &w); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLoad measures LoadWorks of 10,000 works.
func benchLoad(b *testing.B, s index.Store) {
	ctx := context.Background()
	const n = 10_000
	for i := range n {
		if _, err := s.CreateWork(ctx, storetest.NewWork(fmt.Sprintf("c%d", i%100))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		count := 0
		if _, err := s.LoadWorks(ctx, func(index.MatchEntry) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("loaded %d works, want %d", count, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/work")
}
