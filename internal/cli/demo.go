package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/aura-art/aura/eval"
	"github.com/aura-art/aura/index"
	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/worker"
)

// demoTenant is the tenant of the demo's submissions.
const demoTenant = "demo"

// fixture is one line of fixtures/manifest.jsonl.
type fixture struct {
	File      string `json:"file"`
	Title     string `json:"title"`
	Creator   string `json:"creator"`
	CreatorID string `json:"creator_id"`
	Year      int    `json:"year"`
	Source    string `json:"source"`
	Licence   string `json:"licence"`
}

// readFixtures reads the fixtures manifest in dir.
func readFixtures(dir string) ([]fixture, error) {
	f, err := os.Open(filepath.Join(dir, "manifest.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w (point --fixtures at the repository's fixtures directory)", err)
	}
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var fx fixture
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			return nil, fmt.Errorf("demo: manifest: %w", err)
		}
		out = append(out, fx)
	}
	return out, sc.Err()
}

// demoCopy is a copy the demo submits: a transform of a fixture, claimed by a creator.
type demoCopy struct {
	fixture   int
	transform string // eval transform name; "" for an unrelated picture
	creator   string // "" for the fixture's own creator
	what      string
}

var demoCopies = []demoCopy{
	{0, "flip_h", "mallory", "a mirrored copy"},
	{1, "crop_80", "mallory", "a cropped copy"},
	{2, "jpeg_q50", "mallory", "a re-compressed copy"},
	{3, "screenshot", "mallory", "a screenshot"},
	{4, "hue_shift", "mallory", "a recoloured copy"},
	{5, "jpeg_q95", "", "the creator's own re-upload"},
	{-1, "", "mallory", "an unrelated picture"},
}

// runDemo registers the fixtures, submits transformed copies of some of them as tenant
// "demo" once the worker consumes, and prints their verdicts as they arrive.
func runDemo(ctx context.Context, std IO, reg *openedRegistry, client *worker.Client, w *worker.Worker, dir string) error {
	fixtures, err := readFixtures(dir)
	if err != nil {
		return err
	}
	registered, existed := 0, 0
	for _, fx := range fixtures {
		data, err := os.ReadFile(filepath.Join(dir, fx.File))
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		res, err := reg.Register(ctx, data, index.WorkMeta{
			CreatorID: fx.CreatorID, CreatorName: fx.Creator, Title: fx.Title, Year: fx.Year,
			SourceURL: fx.Source, Licence: fx.Licence, RegisteredBy: "demo",
		})
		if err != nil {
			return fmt.Errorf("demo: register %s: %w", fx.File, err)
		}
		if res.Status == index.StatusExists {
			existed++
		} else {
			registered++
		}
	}
	fmt.Fprintf(std.Stdout, "demo: %d fixture works registered (%d were already)\n", registered, existed)

	for deadline := time.Now().Add(30 * time.Second); !w.Consuming(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.New("demo: the worker did not start")
		}
	}
	watch, err := client.WatchVerdicts(ctx, demoTenant)
	if err != nil {
		return err
	}
	defer watch.Close()
	run := newSubmissionID()
	what := map[string]string{}
	for i, c := range demoCopies {
		data, creator, err := demoPicture(dir, fixtures, c)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("%s-%d", run, i)
		if _, err := client.Submit(ctx, &worker.Submission{
			SchemaVersion: worker.SchemaVersion, ID: id, Tenant: demoTenant, Creator: creator, Image: worker.Image{Data: data},
		}); err != nil {
			return err
		}
		what[id] = c.what
		if c.fixture >= 0 {
			what[id] += " of " + fixtures[c.fixture].File + ", claimed by " + creator
		}
	}
	fmt.Fprintf(std.Stdout, "demo: %d copies submitted as tenant %q; their verdicts:\n", len(demoCopies), demoTenant)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for len(what) > 0 {
		v, err := watch.Next(wctx)
		if err != nil {
			return err
		}
		if d, ok := what[v.SubmissionID]; ok {
			delete(what, v.SubmissionID)
			fmt.Fprintf(std.Stdout, "demo: %s\n      (%s)\n", verdictLine(v.SubmissionID, v), d)
		}
	}
	return nil
}

// demoPicture makes the picture of a demo copy and returns it with the creator it is
// claimed by.
func demoPicture(dir string, fixtures []fixture, c demoCopy) ([]byte, string, error) {
	if c.fixture < 0 || c.fixture >= len(fixtures) {
		return synth.JPEG(800, 600, 4242, 90), c.creator, nil
	}
	fx := fixtures[c.fixture]
	creator := c.creator
	if creator == "" {
		creator = fx.CreatorID
	}
	src, err := os.ReadFile(filepath.Join(dir, fx.File))
	if err != nil {
		return nil, "", fmt.Errorf("demo: %w", err)
	}
	img, err := eval.Decode(src)
	if err != nil {
		return nil, "", fmt.Errorf("demo: decode %s: %w", fx.File, err)
	}
	t, ok := eval.ByName(c.transform)
	if !ok {
		return nil, "", fmt.Errorf("demo: no transform %q", c.transform)
	}
	data, err := t.Apply(img, rand.New(rand.NewPCG(uint64(c.fixture), 7)))
	if err != nil {
		return nil, "", fmt.Errorf("demo: %s of %s: %w", c.transform, fx.File, err)
	}
	return data, creator, nil
}
