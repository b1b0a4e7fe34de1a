package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
)

// Item is one picture of the development corpus, as listed in corpus.jsonl by
// fixtures/build-corpus.sh.
type Item struct {
	File    string `json:"file"`
	Package string `json:"package"`
	Source  string `json:"source_path"`
	Kind    string `json:"kind"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
}

// Path is the item's file inside the corpus directory dir.
func (it Item) Path(dir string) string { return filepath.Join(dir, it.File) }

// LoadCorpus reads dir/corpus.jsonl.
func LoadCorpus(dir string) ([]Item, error) {
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("eval: corpus: %w (build it with fixtures/build-corpus.sh)", err)
	}
	defer f.Close()
	var items []Item
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var it Item
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return nil, fmt.Errorf("eval: corpus line %d: %w", n, err)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: corpus: %w", err)
	}
	return items, nil
}

// Split picks originals among the items of kind "photo" (photographs and paintings; never
// clipart, diagrams or sprites) and distractors among the rest, at random but reproducibly
// for a seed. A count of 0 takes every item left.
func Split(items []Item, originals, distractors int, seed uint64) (orig, dist []Item, err error) {
	items = slices.Clone(items)
	rng := rand.New(rand.NewPCG(seed, 0x617572612d6576))
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	var rest []Item
	for _, it := range items {
		if it.Kind == "photo" && len(orig) < originals {
			orig = append(orig, it)
			continue
		}
		rest = append(rest, it)
	}
	if len(orig) < originals {
		return nil, nil, fmt.Errorf("eval: corpus has %d photos, %d originals asked", len(orig), originals)
	}
	if distractors > 0 {
		if len(rest) < distractors {
			return nil, nil, fmt.Errorf("eval: corpus has %d pictures left for distractors, %d asked", len(rest), distractors)
		}
		rest = rest[:distractors]
	}
	return orig, rest, nil
}
