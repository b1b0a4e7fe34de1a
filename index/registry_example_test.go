package index_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/imgtest"
)

// Register a work, see a mirrored copy by someone else raise a provenance dispute, and check
// an upload.
func ExampleRegistry() {
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
	// A long-lived process also runs matcher.Run(ctx, store, log) and waits for Ready.
	reg, err := index.NewRegistry(store, index.NewMatcher(), index.DefaultRegistryConfig(), nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	res, err := reg.Register(ctx, imgtest.Photo(400, 300, 1), index.WorkMeta{CreatorID: "alice", Title: "Harbour"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice:", res.Status)

	res, err = reg.Register(ctx, imgtest.Mirrored(400, 300, 1), index.WorkMeta{CreatorID: "bob"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("bob:", res.Status, "with", res.Dispute.ExistingCreatorID)

	v, err := reg.Check(ctx, imgtest.Reencoded(400, 300, 1, 75), "carol")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("carol's upload:", v.Verdict, "of", v.Matches[0].Title)
	// Output:
	// alice: registered
	// bob: disputed with alice
	// carol's upload: likely_forgery of Harbour
}
