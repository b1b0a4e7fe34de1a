package hashing

import (
	"bytes"
	"fmt"
	"image"
	"sync"
	"testing"

	"github.com/corona10/goimagehash"

	"github.com/aura-art/aura/internal/synth"
)

var benchJPEGs = sync.OnceValue(func() map[string][]byte {
	return map[string][]byte{
		"12MP": synth.JPEG(4000, 3000, 1, 90),
		"1MP":  synth.JPEG(1155, 866, 1, 90),
	}
})

// naiveFingerprint is the pipeline Aura is measured against: the standard library decodes
// the full image and goimagehash hashes it three times.
func naiveFingerprint(data []byte) (Hashes, error) {
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Hashes{}, err
	}
	p, _ := goimagehash.PerceptionHash(m)
	d, _ := goimagehash.DifferenceHash(m)
	a, _ := goimagehash.AverageHash(m)
	return Hashes{Hash(p.GetHash()), Hash(d.GetHash()), Hash(a.GetHash())}, nil
}

// BenchmarkFingerprint compares Aura's path from file bytes to a query fingerprint with the
// naive pipeline, on the same JPEGs. Compare the two with benchstat or the ratio printed by
// `aura bench`.
func BenchmarkFingerprint(b *testing.B) {
	cfg := DefaultConfig()
	for _, size := range []string{"12MP", "1MP"} {
		data := benchJPEGs()[size]
		b.Run(fmt.Sprintf("%s/aura", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				img, err := cfg.Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				img.Fingerprint(Query)
			}
		})
		b.Run(fmt.Sprintf("%s/aura-go-decoder", size), func(b *testing.B) {
			c := cfg
			c.FastJPEG = false
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				img, err := c.Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				img.Fingerprint(Query)
			}
		})
		b.Run(fmt.Sprintf("%s/naive", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := naiveFingerprint(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFingerprintViews measures the hashing of a normalised image alone, per purpose.
func BenchmarkFingerprintViews(b *testing.B) {
	img, err := DefaultConfig().Decode(benchJPEGs()["1MP"])
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []struct {
		name string
		p    Purpose
	}{{"query", Query}, {"reference", Reference}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				img.Fingerprint(p.p)
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	q := fingerprintOf(b, encodeJPEG(b, texture(200, 150, 1), 90), Query)
	r := fingerprintOf(b, encodeJPEG(b, texture(200, 150, 2), 90), Reference)
	b.ReportAllocs()
	for b.Loop() {
		Compare(q, r)
	}
}

// BenchmarkDecodeFormats decodes the same 451×300 picture from JPEG, AVIF and HEIC
// (testdata/README.md): the WebAssembly decoders' cost beside the JPEG path. The first AVIF
// or HEIC decode of a process also compiles its decoder; one decode before the timing keeps
// that out of the figure.
func BenchmarkDecodeFormats(b *testing.B) {
	for _, f := range []struct{ name, path string }{
		{"jpeg", "../fixtures/images/chelsea-the-cat.jpg"},
		{"avif", "testdata/chelsea.avif"},
		{"heic", "testdata/chelsea.heic"},
	} {
		data := readFile(b, f.path)
		if _, err := DefaultConfig().Decode(data); err != nil {
			b.Fatal(err)
		}
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DefaultConfig().Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
