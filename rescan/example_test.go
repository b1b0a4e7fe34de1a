package rescan_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
	"github.com/aura-art/aura/rescan"
	"github.com/aura-art/aura/review"
)

// Rescan an archive against a registry that holds one of alice's works: the copy of it is
// flagged and opens a review case. A second run finds everything done.
func Example() {
	dir, err := os.MkdirTemp("", "aura-rescan-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := index.OpenBolt(filepath.Join(dir, "aura.db"), index.DefaultBoltOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	cases, err := review.NewBoltStore(store.DB())
	if err != nil {
		log.Fatal(err)
	}
	reg, err := index.NewRegistry(store, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if _, err := reg.Register(ctx, imgtest.Photo(320, 240, 1), index.WorkMeta{CreatorID: "alice"}); err != nil {
		log.Fatal(err)
	}

	archive := filepath.Join(dir, "archive")
	_ = os.MkdirAll(filepath.Join(archive, "2024"), 0o755)
	_ = os.WriteFile(filepath.Join(archive, "2024", "copy.jpg"), imgtest.Reencoded(320, 240, 1, 70), 0o644)
	_ = os.WriteFile(filepath.Join(archive, "2024", "other.jpg"), imgtest.Photo(320, 240, 2), 0o644)
	src, err := rescan.NewDir(archive, false)
	if err != nil {
		log.Fatal(err)
	}
	journal, err := rescan.OpenJournal(filepath.Join(dir, "rescans", src.Key()))
	if err != nil {
		log.Fatal(err)
	}
	defer journal.Close()

	for range 2 {
		r, err := rescan.New(rescan.DefaultConfig(), rescan.Deps{Checker: reg, Cases: &review.Opener{Store: cases}, Journal: journal})
		if err != nil {
			log.Fatal(err)
		}
		sum, err := r.Run(ctx, src)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d items: %d checked, %d flagged, %d cases, %d skipped\n", sum.Items, sum.OK, sum.Flagged(), sum.Cases, sum.Skipped)
	}
	// Output:
	// 2 items: 2 checked, 1 flagged, 1 cases, 0 skipped
	// 2 items: 0 checked, 0 flagged, 0 cases, 2 skipped
}
