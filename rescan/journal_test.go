package rescan_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aura-art/aura/rescan"
)

// TestJournalTornLine appends results, tears the last line as a crash would, and opens the
// journal again: the torn line is cut off and later appends are whole lines.
func TestJournalTornLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := rescan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		must(t, j.Append(rescan.Result{ID: id, Tenant: "t", Status: rescan.OK, Verdict: "clear", Size: 10, MTime: 20}))
	}
	must(t, j.Close())
	path := filepath.Join(dir, rescan.JournalName)
	whole, _ := os.ReadFile(path)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"id":"d","tenant":"t","sta`)
	f.Close()

	j, err = rescan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if j.Len() != 3 || j.Ignored() != 0 {
		t.Errorf("reopened: Len %d, Ignored %d; want 3, 0", j.Len(), j.Ignored())
	}
	if got, _ := os.ReadFile(path); string(got) != string(whole) {
		t.Errorf("the torn line was not cut off:\n%s", got)
	}
	if r, ok := j.Lookup("t", "b", 0); !ok || r.Size != 10 || r.MTime != 20 || r.Verdict != "clear" {
		t.Errorf("Lookup(b) = %+v, %v", r, ok)
	}
	must(t, j.Append(rescan.Result{ID: "d", Tenant: "t", Status: rescan.Error, Error: "x"}))
	must(t, j.Append(rescan.Result{Line: 7, Tenant: "t", Status: rescan.Error, Error: "bad JSON"}))
	must(t, j.Close())

	// A damaged line in the middle is ignored, and counted.
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	lines[1] = "garbage\n"
	must(t, os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600))
	j, err = rescan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.Len() != 4 || j.Ignored() != 1 {
		t.Errorf("Len %d, Ignored %d; want 4, 1", j.Len(), j.Ignored())
	}
	if _, ok := j.Lookup("t", "b", 0); ok {
		t.Error("the damaged line's result was loaded")
	}
	if r, ok := j.Lookup("other", "", 7); !ok || r.Error != "bad JSON" {
		t.Errorf("Lookup(line 7) = %+v, %v", r, ok)
	}
	must(t, j.Reset())
	if j.Len() != 0 {
		t.Errorf("Len after Reset = %d", j.Len())
	}
	if info, _ := os.Stat(path); info.Size() != 0 {
		t.Errorf("journal after Reset has %d bytes", info.Size())
	}
}

// TestJournalBusy opens one state directory twice: the second fails with ErrBusy, until the
// first is closed.
func TestJournalBusy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, err := rescan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rescan.OpenJournal(dir); !errors.Is(err, rescan.ErrBusy) {
		t.Errorf("second OpenJournal = %v; want ErrBusy", err)
	}
	must(t, j.Close())
	j, err = rescan.OpenJournal(dir)
	if err != nil {
		t.Fatalf("OpenJournal after Close = %v", err)
	}
	must(t, j.Close())
}
