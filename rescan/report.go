package rescan

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReportColumns are the report's fields, in the order of a CSV report's columns.
var ReportColumns = []string{"id", "tenant", "line", "source", "status", "verdict", "work_id", "score", "case_id", "error", "ms"}

// Report writes one line a Result: JSONL (the fields of ReportColumns) or CSV (a header
// row, then those columns). It buffers; Flush or Close writes out. It is not safe for
// concurrent use.
type Report struct {
	bw     *bufio.Writer
	csv    *csv.Writer
	closer io.Closer
}

// reportLine is a Result as a JSONL report writes it.
type reportLine struct {
	ID      string  `json:"id"`
	Tenant  string  `json:"tenant"`
	Line    int     `json:"line,omitempty"`
	Source  string  `json:"source,omitempty"`
	Status  Status  `json:"status"`
	Verdict string  `json:"verdict,omitempty"`
	WorkID  string  `json:"work_id,omitempty"`
	Score   float64 `json:"score,omitempty"`
	CaseID  string  `json:"case_id,omitempty"`
	Error   string  `json:"error,omitempty"`
	Millis  float64 `json:"ms"`
}

// CreateReport creates (or truncates) the report file name, in the format its extension
// names: .jsonl or .ndjson for JSONL, .csv for CSV.
func CreateReport(name string) (*Report, error) {
	var csvOut bool
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson":
	case ".csv":
		csvOut = true
	default:
		return nil, fmt.Errorf("rescan: report %s: want a .jsonl or .csv file name", name)
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("rescan: report: %w", err)
	}
	r, err := NewReport(f, csvOut)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReport returns a report that writes to w: CSV when csvOut is set, else JSONL. Close
// does not close w.
func NewReport(w io.Writer, csvOut bool) (*Report, error) {
	r := &Report{bw: bufio.NewWriterSize(w, 64<<10)}
	if csvOut {
		r.csv = csv.NewWriter(r.bw)
		if err := r.csv.Write(ReportColumns); err != nil {
			return nil, fmt.Errorf("rescan: report: %w", err)
		}
	}
	return r, nil
}

// Write adds one result.
func (r *Report) Write(res Result) error {
	ms := strconv.FormatFloat(res.Millis, 'f', 1, 64)
	var err error
	if r.csv != nil {
		line, score := "", ""
		if res.Line > 0 {
			line = strconv.Itoa(res.Line)
		}
		if res.WorkID != "" {
			score = strconv.FormatFloat(res.Score, 'f', 4, 64)
		}
		err = r.csv.Write([]string{res.ID, res.Tenant, line, res.Source, string(res.Status), string(res.Verdict), res.WorkID, score, res.CaseID, res.Error, ms})
	} else {
		millis, _ := strconv.ParseFloat(ms, 64)
		var b []byte
		b, err = json.Marshal(reportLine{
			ID: res.ID, Tenant: res.Tenant, Line: res.Line, Source: res.Source, Status: res.Status,
			Verdict: string(res.Verdict), WorkID: res.WorkID, Score: res.Score, CaseID: res.CaseID,
			Error: res.Error, Millis: millis,
		})
		if err == nil {
			_, err = r.bw.Write(append(b, '\n'))
		}
	}
	if err != nil {
		return fmt.Errorf("rescan: report: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (r *Report) Flush() error {
	if r.csv != nil {
		r.csv.Flush()
		if err := r.csv.Error(); err != nil {
			return fmt.Errorf("rescan: report: %w", err)
		}
	}
	if err := r.bw.Flush(); err != nil {
		return fmt.Errorf("rescan: report: %w", err)
	}
	return nil
}

// Close flushes the report and closes its file (CreateReport's).
func (r *Report) Close() error {
	err := r.Flush()
	if r.closer != nil {
		if cerr := r.closer.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("rescan: report: %w", cerr)
		}
	}
	return err
}
