package index_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aura-art/aura/hashing"
	"github.com/aura-art/aura/index"
)

// A registry on one machine: register a work, see the same file refused, and follow the
// change feed as a matcher replica does.
func ExampleOpenBolt() {
	dir, err := os.MkdirTemp("", "aura-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := index.OpenBolt(filepath.Join(dir, "aura.db"), index.DefaultBoltOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()

	fp := &hashing.Fingerprint{Version: hashing.FormatVersion, Views: []hashing.View{
		{Variant: hashing.Variant{Region: hashing.Full}, Hashes: hashing.Hashes{P: 0x8f3a, D: 0x11c0, A: 0xff00}},
	}}
	work := &index.Work{
		CreatorID: "artist-1", Title: "Harbour at dawn", Year: 2021,
		SHA256:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Fingerprint: fp,
	}
	created, err := store.CreateWork(ctx, work)
	if err != nil {
		log.Fatal(err)
	}

	again := *work
	again.CreatorID = "someone-else"
	existing, err := store.CreateWork(ctx, &again)
	fmt.Println("same file again:", errors.Is(err, index.ErrExists), existing.ID == created.ID)

	// A replica loads the registry, then tails the feed from lastSeq.
	n := 0
	lastSeq, err := store.LoadWorks(ctx, func(index.MatchEntry) error { n++; return nil })
	if err != nil {
		log.Fatal(err)
	}
	if err := store.SetDisabled(ctx, created.ID, true); err != nil {
		log.Fatal(err)
	}
	changes, err := store.WaitChanges(ctx, lastSeq, 100)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("loaded:", n)
	for _, c := range changes {
		fmt.Println("change:", c.Op, c.WorkID == created.ID)
	}
	// Output:
	// same file again: true true
	// loaded: 1
	// change: disable true
}
