package worker_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aura-art/aura/internal/synth"
	"github.com/aura-art/aura/worker"
)

func TestDecodeSubmission(t *testing.T) {
	t.Parallel()
	img := []byte{0xff, 0xd8, 0xff, 0xfe, 0x3f} // base64 "/9j//j8=": slashes JSON may escape
	b64 := base64.StdEncoding.EncodeToString(img)
	for _, c := range []struct {
		name, body string
		want       *worker.Submission
		err        string
	}{
		{"inline", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":"` + b64 + `"}}`,
			&worker.Submission{SchemaVersion: 1, ID: "a", Tenant: "t", Image: worker.Image{Data: img}}, ""},
		{"inline escaped", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":"` + strings.ReplaceAll(b64, "/", `\/`) + `"}}`,
			&worker.Submission{SchemaVersion: 1, ID: "a", Tenant: "t", Image: worker.Image{Data: img}}, ""},
		{"url and creator", `{"schema_version":1,"id":"a","tenant":"t","creator":"Zoë","image":{"url":"https://x.example/a.png"}}`,
			&worker.Submission{SchemaVersion: 1, ID: "a", Tenant: "t", Creator: "Zoë", Image: worker.Image{URL: "https://x.example/a.png"}}, ""},
		{"null data", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":null}}`, nil, "neither url nor data"},
		{"number data", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":12}}`, nil, "image.data is not a string"},
		{"empty data", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":""}}`, nil, "image.data is empty"},
		{"unpadded", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":"` + strings.TrimRight(b64, "=") + `"}}`, nil, "not standard base64"},
		{"both", `{"schema_version":1,"id":"a","tenant":"t","image":{"url":"https://x.example/a","data":"` + b64 + `"}}`, nil, "both url and data"},
		{"too big inline", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":"` + base64.StdEncoding.EncodeToString(make([]byte, 2000)) + `"}}`, nil, "more than the 1024 allowed inline"},
		{"unknown member beside data", `{"schema_version":1,"id":"a","tenant":"t","image":{"data":"` + b64 + `"},"extra":1}`, nil, `unknown field "extra"`},
		{"version string", `{"schema_version":"1","id":"a"}`, nil, `schema_version "1" is not an integer`},
		{"two values", `{"schema_version":1,"id":"a","tenant":"t","image":{"url":"https://x.example/a"}} {}`, nil, "malformed JSON: invalid character '{' after top-level value"},
		{"bad id", `{"schema_version":1,"id":"a b","tenant":"t","image":{"url":"https://x.example/a"}}`, nil, `id "a b"`},
		{"repeated member", `{"schema_version":1,"id":"a","id":"b","tenant":"t","image":{"url":"https://x.example/a"}}`, nil, `duplicate object member name "id"`},
		{"member in other case", `{"schema_version":1,"ID":"a","tenant":"t","image":{"url":"https://x.example/a"}}`, nil, `unknown object member name "ID"`},
		{"invalid UTF-8", "{\"schema_version\":1,\"id\":\"a\",\"tenant\":\"t\",\"creator\":\"\xff\",\"image\":{\"url\":\"https://x.example/a\"}}", nil, "invalid UTF-8"},
		{"control in creator", `{"schema_version":1,"id":"a","tenant":"t","creator":"a\u0007","image":{"url":"https://x.example/a"}}`, nil, "creator"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := worker.DecodeSubmission([]byte(c.body), 1024)
			if c.err != "" {
				if !errors.Is(err, worker.ErrBadMessage) || !strings.Contains(err.Error(), c.err) {
					t.Errorf("err %v, want ErrBadMessage containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err := got.Validate(1024); err != nil {
				t.Errorf("Validate of a decoded submission: %v", err)
			}
		})
	}
}

// FuzzDecodeSubmission: no input panics, and every accepted submission validates and
// survives a JSON round trip.
func FuzzDecodeSubmission(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"id":"a","tenant":"t","image":{"data":"/9j/"}}`))
	f.Add([]byte(`{"schema_version":1,"id":"a","tenant":"t","creator":"c","image":{"url":"http://x.example/"}}`))
	f.Add([]byte(`{"schema_version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := worker.DecodeSubmission(data, 1<<16)
		if err != nil {
			if !errors.Is(err, worker.ErrPermanent) {
				t.Fatalf("error not permanent: %v", err)
			}
			return
		}
		if err := s.Validate(1 << 16); err != nil {
			t.Fatalf("accepted %q, Validate: %v", data, err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := worker.DecodeSubmission(b, 1<<16)
		if err != nil {
			t.Fatalf("round trip of %q: %v", data, err)
		}
		if diff := cmp.Diff(s, again); diff != "" {
			t.Fatalf("round trip (-first +again):\n%s", diff)
		}
	})
}

// BenchmarkDecodeSubmission decodes a submission carrying a 1 MP JPEG inline (about 300 KB
// of base64), beside the baseline: the same strict parse with encoding/json, which
// DecodeSubmission used before.
func BenchmarkDecodeSubmission(b *testing.B) {
	body, err := json.Marshal(worker.Submission{SchemaVersion: worker.SchemaVersion, ID: "x-1", Tenant: "shop", Image: worker.Image{Data: synth.JPEG(1155, 866, 7, 90)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("DecodeSubmission", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := worker.DecodeSubmission(body, 5<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline_encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var w struct {
				SchemaVersion *int    `json:"schema_version"`
				ID            *string `json:"id"`
				Tenant        *string `json:"tenant"`
				Image         *struct {
					Data json.RawMessage `json:"data"`
				} `json:"image"`
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&w); err != nil {
				b.Fatal(err)
			}
			raw := w.Image.Data[1 : len(w.Image.Data)-1]
			img := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
			if _, err := base64.StdEncoding.Strict().Decode(img, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
