package hashing

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// turboBenchMin is the minimum output size requested from turboDecodeGray in
// the reduced-scale benchmarks: comfortably above what perceptual hashes
// resize to. It selects 1/8 (500x375) for 12 MP and 3/8 (375x375) for 1 MP.
const turboBenchMin = 256

// turboBenchJPEG returns the photo-like benchmark JPEG of w x h pixels at
// quality 90 (smooth gradients plus noise, image/jpeg baseline 4:2:0). The
// encode runs before the timer is reset.
func turboBenchJPEG(b *testing.B, w, h int) []byte {
	b.Helper()
	data := turboTestJPEG(b, w, h, 90)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	return data
}

// turboBenchDecode benchmarks turboDecodeGray on a w x h JPEG with the given
// minimum output size.
func turboBenchDecode(b *testing.B, w, h, minW, minH int) {
	turboRequire(b)
	data := turboBenchJPEG(b, w, h)
	for b.Loop() {
		if _, err := turboDecodeGray(data, minW, minH); err != nil {
			b.Fatal(err)
		}
	}
}

// turboBenchStdlib benchmarks image/jpeg.Decode (full scale, YCbCr output)
// on the same w x h JPEG, as the baseline the TurboJPEG path replaces.
func turboBenchStdlib(b *testing.B, w, h int) {
	data := turboBenchJPEG(b, w, h)
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTurboDecodeGray12MP: 4000x3000 decoded to gray at 1/8 (500x375).
func BenchmarkTurboDecodeGray12MP(b *testing.B) {
	turboBenchDecode(b, 4000, 3000, turboBenchMin, turboBenchMin)
}

// BenchmarkTurboDecodeGray1MP: 1000x1000 decoded to gray at 3/8 (375x375).
func BenchmarkTurboDecodeGray1MP(b *testing.B) {
	turboBenchDecode(b, 1000, 1000, turboBenchMin, turboBenchMin)
}

// BenchmarkTurboDecodeGray12MPFullScale: 4000x3000 decoded to gray at 1/1.
func BenchmarkTurboDecodeGray12MPFullScale(b *testing.B) {
	turboBenchDecode(b, 4000, 3000, 4000, 3000)
}

// BenchmarkTurboDecodeGray1MPFullScale: 1000x1000 decoded to gray at 1/1.
func BenchmarkTurboDecodeGray1MPFullScale(b *testing.B) {
	turboBenchDecode(b, 1000, 1000, 1000, 1000)
}

// BenchmarkStdlibJPEGDecode12MP: image/jpeg.Decode of the 4000x3000 JPEG.
func BenchmarkStdlibJPEGDecode12MP(b *testing.B) {
	turboBenchStdlib(b, 4000, 3000)
}

// BenchmarkStdlibJPEGDecode1MP: image/jpeg.Decode of the 1000x1000 JPEG.
func BenchmarkStdlibJPEGDecode1MP(b *testing.B) {
	turboBenchStdlib(b, 1000, 1000)
}

// BenchmarkTurboHeader measures turboHeader (handle init, header parse,
// destroy) on the 12 MP JPEG: the fixed per-call overhead of the binding.
func BenchmarkTurboHeader(b *testing.B) {
	turboRequire(b)
	data := turboBenchJPEG(b, 4000, 3000)
	b.SetBytes(0)
	for b.Loop() {
		if _, _, _, err := turboHeader(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTurboHandleInitDestroy measures one tjInitDecompress + tjDestroy
// pair through purego, to justify creating a handle per call instead of
// pooling handles.
func BenchmarkTurboHandleInitDestroy(b *testing.B) {
	turboRequire(b)
	b.ReportAllocs()
	for b.Loop() {
		h := turboJPEG.initDecompress()
		if h == 0 {
			b.Fatal("tjInitDecompress failed")
		}
		turboJPEG.destroy(h)
	}
}
