package hashing

// Fast JPEG decoding straight to 8-bit grayscale at a reduced scale, using
// libjpeg-turbo's TurboJPEG library loaded at run time with purego (no cgo is
// needed at build time). When the library cannot be loaded every entry point
// reports unavailability and the caller falls back to the pure-Go decoder.
//
// The binding targets the TurboJPEG 2.x API (tjInitDecompress,
// tjDecompressHeader3, tjGetScalingFactors, tjDecompress2, tjGetErrorStr2,
// tjGetErrorCode, tjDestroy), which libjpeg-turbo 3.x still exports from
// libturbojpeg.so.0 as a compatibility layer. Signatures below were taken from
// turbojpeg.h (libjpeg-turbo 2.1.5, Debian 12's libturbojpeg0-dev).
//
// C-to-Go type mapping used for purego (LP64: linux/darwin/freebsd on 64-bit):
//
//	int            -> int32   (NOT Go int: a C int return lives in the low 32
//	                           bits of the return register and the upper bits
//	                           are garbage, so -1 would read back as 4294967295)
//	int *          -> *int32
//	unsigned long  -> uint    (64 bits on LP64 unix, 32 bits on ILP32 unix;
//	                           would be wrong on Windows/LLP64, where purego's
//	                           Dlopen does not exist anyway)
//	tjhandle       -> uintptr (opaque C pointer; never dereferenced by Go)
//	unsigned char* -> *byte   (Go memory, kept alive across the call)
//	char * return  -> string  (purego copies the NUL-terminated C string)

import (
	"errors"
	"fmt"
	"image"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// TurboJPEG constants, copied from turbojpeg.h (TurboJPEG 2.x).
const (
	// turboPFGray is TJPF_GRAY: one byte per pixel, luminance only.
	turboPFGray = 6
	// turboPFRGBA is TJPF_RGBA: four bytes per pixel, alpha set to 0xFF.
	turboPFRGBA = 7

	// turboFlagStopOnWarning is TJFLAG_STOPONWARNING: abort on the first
	// libjpeg warning (corrupt or truncated data) instead of finishing the
	// image with filler pixels.
	turboFlagStopOnWarning = 8192
	// turboFlagLimitScans is TJFLAG_LIMITSCANS: fail progressive JPEGs with
	// more than 500 scans (a known CPU-exhaustion attack). Older libraries
	// ignore unknown flag bits.
	turboFlagLimitScans = 32768
	// turboDecodeFlags are the flags passed to tjDecompress2. The default
	// (accurate integer) IDCT is kept so results stay close to image/jpeg.
	turboDecodeFlags = turboFlagStopOnWarning | turboFlagLimitScans

	// turboErrWarning is TJERR_WARNING: the last error was non-fatal but the
	// output may be corrupt.
	turboErrWarning = 0
	// turboErrFatal is TJERR_FATAL: the last error was non-recoverable.
	turboErrFatal = 1
)

// JPEG colorspaces reported by turboHeader (enum TJCS in turbojpeg.h).
const (
	// turboCSRGB is TJCS_RGB: RGB components stored without a transform.
	turboCSRGB = 0
	// turboCSYCbCr is TJCS_YCbCr: the usual colour JPEG.
	turboCSYCbCr = 1
	// turboCSGray is TJCS_GRAY: single-component grayscale JPEG.
	turboCSGray = 2
	// turboCSCMYK is TJCS_CMYK: four components, cannot be decoded to gray.
	turboCSCMYK = 3
	// turboCSYCCK is TJCS_YCCK: transformed CMYK, cannot be decoded to gray.
	turboCSYCCK = 4
)

// errTurboUnsupported is returned when TurboJPEG cannot produce grayscale for
// an otherwise valid image (CMYK and YCCK JPEGs: libjpeg only converts those
// to CMYK pixels). Callers should fall back to the pure-Go decoder.
var errTurboUnsupported = errors.New("hashing: turbojpeg: unsupported JPEG colorspace (CMYK/YCCK)")

// errTurboUnavailable is returned by the decode entry points when
// libturbojpeg could not be loaded or was disabled by AURA_TURBOJPEG=off.
var errTurboUnavailable = errors.New("hashing: turbojpeg: library not available")

// errTurboEmpty is returned for a zero-length input: TurboJPEG must never
// receive a pointer to an empty Go slice.
var errTurboEmpty = errors.New("hashing: turbojpeg: empty input")

// turboScalingFactor mirrors the C struct tjscalingfactor {int num; int denom;}.
// Its layout (two consecutive 32-bit ints, no padding) matches C, so a pointer
// returned by tjGetScalingFactors can be viewed as a Go slice of it.
type turboScalingFactor struct {
	// num is the numerator of the scaling factor.
	num int32
	// denom is the denominator of the scaling factor.
	denom int32
}

// turboFixedFactors is the set of downscaling factors (<= 1) every
// libjpeg-turbo >= 1.2 supports, in ascending order. It is used when
// tjGetScalingFactors fails or returns nothing usable.
var turboFixedFactors = []turboScalingFactor{
	{1, 8}, {1, 4}, {3, 8}, {1, 2}, {5, 8}, {3, 4}, {7, 8}, {1, 1},
}

// turboLib holds the functions bound from libturbojpeg. All function fields
// are nil when the library is unavailable.
type turboLib struct {
	// path is the name or path the library was successfully loaded from.
	path string
	// handle is the dlopen handle; the library is never closed once loaded.
	handle uintptr
	// factors are the supported scaling factors <= 1, ascending, deduplicated.
	factors []turboScalingFactor

	// initDecompress is tjhandle tjInitDecompress(void).
	initDecompress func() uintptr
	// decompressHeader3 is int tjDecompressHeader3(tjhandle handle,
	// const unsigned char *jpegBuf, unsigned long jpegSize, int *width,
	// int *height, int *jpegSubsamp, int *jpegColorspace).
	decompressHeader3 func(handle uintptr, jpegBuf *byte, jpegSize uint, width, height, subsamp, colorspace *int32) int32
	// decompress2 is int tjDecompress2(tjhandle handle,
	// const unsigned char *jpegBuf, unsigned long jpegSize,
	// unsigned char *dstBuf, int width, int pitch, int height,
	// int pixelFormat, int flags).
	decompress2 func(handle uintptr, jpegBuf *byte, jpegSize uint, dstBuf *byte, width, pitch, height, pixelFormat, flags int32) int32
	// getScalingFactors is tjscalingfactor *tjGetScalingFactors(int *numScalingFactors).
	getScalingFactors func(numScalingFactors *int32) *turboScalingFactor
	// getErrorStr2 is char *tjGetErrorStr2(tjhandle handle).
	getErrorStr2 func(handle uintptr) string
	// getErrorCode is int tjGetErrorCode(tjhandle handle).
	getErrorCode func(handle uintptr) int32
	// destroy is int tjDestroy(tjhandle handle).
	destroy func(handle uintptr) int32
}

// turboJPEG is the lazily loaded libturbojpeg; its function fields are nil
// when the library is unavailable. It is written exactly once, inside
// turboOnce, and only read afterwards (through turboAvailable).
var turboJPEG turboLib

// turboOnce guards the one-time load of turboJPEG.
var turboOnce sync.Once

// turboLoadErr records why loading failed (for diagnostics in tests/logs).
var turboLoadErr error

// turboAvailable reports whether libturbojpeg is loaded and usable, loading
// it on the first call. The environment is consulted once:
// AURA_TURBOJPEG=off (also "0", "false", "no", "disabled") disables it, and
// AURA_TURBOJPEG_LIB=path loads only that path instead of the default names.
func turboAvailable() bool {
	turboOnce.Do(func() {
		paths, enabled := turboCandidates(runtime.GOOS, os.Getenv)
		if !enabled {
			turboLoadErr = errors.New("hashing: turbojpeg: disabled by AURA_TURBOJPEG")
			return
		}
		lib, err := turboOpen(paths)
		if err != nil {
			turboLoadErr = err
			return
		}
		turboJPEG = *lib
	})
	return turboJPEG.decompress2 != nil
}

// turboVersion returns the library name or path that was loaded (for example
// "libturbojpeg.so.0"), or "" when TurboJPEG is unavailable.
func turboVersion() string {
	if !turboAvailable() {
		return ""
	}
	return turboJPEG.path
}

// turboCandidates returns the library paths to try for goos, and false when
// the environment (read through getenv) disables TurboJPEG.
func turboCandidates(goos string, getenv func(string) string) (paths []string, enabled bool) {
	switch strings.ToLower(strings.TrimSpace(getenv("AURA_TURBOJPEG"))) {
	case "off", "0", "false", "no", "disabled":
		return nil, false
	}
	if p := strings.TrimSpace(getenv("AURA_TURBOJPEG_LIB")); p != "" {
		return []string{p}, true
	}
	if goos == "darwin" {
		return []string{
			"libturbojpeg.dylib",
			"/opt/homebrew/lib/libturbojpeg.dylib",
			"/opt/homebrew/opt/jpeg-turbo/lib/libturbojpeg.dylib",
			"/usr/local/lib/libturbojpeg.dylib",
			"/usr/local/opt/jpeg-turbo/lib/libturbojpeg.dylib",
		}, true
	}
	return []string{"libturbojpeg.so.0", "libturbojpeg.so"}, true
}

// turboOpen loads the first of paths that opens and exports every required
// TurboJPEG 2.x symbol. A library missing a symbol (e.g. TurboJPEG 1.x lacks
// tjGetErrorStr2) is closed and skipped rather than panicking, which is what
// purego.RegisterLibFunc would do.
func turboOpen(paths []string) (*turboLib, error) {
	var errs []error
	for _, p := range paths {
		lib, err := turboOpenOne(p)
		if err == nil {
			return lib, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errors.New("hashing: turbojpeg: no library candidates")
	}
	return nil, errors.Join(errs...)
}

// turboOpenOne dlopens path and binds the TurboJPEG functions from it.
func turboOpenOne(path string) (*turboLib, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("hashing: turbojpeg: dlopen %s: %w", path, err)
	}
	lib := &turboLib{path: path, handle: h}
	// Resolve every symbol first so a partial library is rejected cleanly.
	syms := []struct {
		name string
		fptr any
	}{
		{"tjInitDecompress", &lib.initDecompress},
		{"tjDecompressHeader3", &lib.decompressHeader3},
		{"tjDecompress2", &lib.decompress2},
		{"tjGetScalingFactors", &lib.getScalingFactors},
		{"tjGetErrorStr2", &lib.getErrorStr2},
		{"tjGetErrorCode", &lib.getErrorCode},
		{"tjDestroy", &lib.destroy},
	}
	addrs := make([]uintptr, len(syms))
	for i, s := range syms {
		addr, err := purego.Dlsym(h, s.name)
		if err != nil || addr == 0 {
			_ = purego.Dlclose(h)
			return nil, fmt.Errorf("hashing: turbojpeg: %s: missing symbol %s", path, s.name)
		}
		addrs[i] = addr
	}
	for i, s := range syms {
		purego.RegisterFunc(s.fptr, addrs[i])
	}
	lib.factors = turboLoadFactors(lib)
	return lib, nil
}

// turboLoadFactors returns the library's scaling factors that do not enlarge
// the image (num/denom <= 1), sorted ascending and deduplicated by value.
// It falls back to turboFixedFactors if the library returns nothing usable.
func turboLoadFactors(lib *turboLib) []turboScalingFactor {
	var n int32
	p := lib.getScalingFactors(&n)
	if p == nil || n <= 0 || n > 1024 {
		return turboFixedFactors
	}
	// p points at a static array inside the library; copy what we need.
	all := unsafe.Slice(p, int(n))
	var out []turboScalingFactor
	for _, f := range all {
		if f.num > 0 && f.denom > 0 && f.num <= f.denom {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return int64(out[i].num)*int64(out[j].denom) < int64(out[j].num)*int64(out[i].denom)
	})
	dedup := out[:0]
	for _, f := range out {
		if len(dedup) > 0 {
			last := dedup[len(dedup)-1]
			if int64(last.num)*int64(f.denom) == int64(f.num)*int64(last.denom) {
				continue
			}
		}
		dedup = append(dedup, f)
	}
	if len(dedup) == 0 || dedup[len(dedup)-1] != (turboScalingFactor{1, 1}) {
		return turboFixedFactors
	}
	return dedup
}

// turboScaled is the TJSCALED macro: ceil(dim * f.num / f.denom).
func turboScaled(dim int, f turboScalingFactor) int {
	return (dim*int(f.num) + int(f.denom) - 1) / int(f.denom)
}

// turboPickScale returns the smallest factor in factors (ascending, all <= 1)
// whose scaled output is still at least minW x minH for a w x h image. If the
// image itself is smaller than that, it returns 1/1.
func turboPickScale(factors []turboScalingFactor, w, h, minW, minH int) turboScalingFactor {
	for _, f := range factors {
		if turboScaled(w, f) >= minW && turboScaled(h, f) >= minH {
			return f
		}
	}
	return turboScalingFactor{1, 1}
}

// turboHeader returns the width, height and JPEG colorspace (one of the
// turboCS* constants) of data, as read by tjDecompressHeader3. The
// colorspace lets callers detect CMYK/YCCK images before decoding; the
// subsampling is read too but not returned (gray output does not need it).
// Note that TurboJPEG 2.x fails here for unusual chroma subsampling (e.g.
// 4:1:0) that the pure-Go decoder may still handle.
func turboHeader(data []byte) (w, h int, colorspace int, err error) {
	if !turboAvailable() {
		return 0, 0, -1, errTurboUnavailable
	}
	if len(data) == 0 {
		return 0, 0, -1, errTurboEmpty
	}
	// libjpeg error messages live in a thread-local buffer inside
	// libturbojpeg, so stay on one OS thread until the message is read.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	hdl := turboJPEG.initDecompress()
	if hdl == 0 {
		return 0, 0, -1, turboErrorFor(0)
	}
	defer turboJPEG.destroy(hdl)
	w, h, _, colorspace, err = turboReadHeader(hdl, data)
	return w, h, colorspace, err
}

// turboReadHeader runs tjDecompressHeader3 on an existing handle and returns
// width, height, subsampling (TJSAMP_*) and colorspace (TJCS_*). The caller
// must hold the OS thread locked and own hdl.
func turboReadHeader(hdl uintptr, data []byte) (w, h, subsamp, colorspace int, err error) {
	// One allocation for all four out-parameters; C writes into Go memory
	// only for the duration of the call, which the cgo pointer rules allow.
	out := new([4]int32)
	rc := turboJPEG.decompressHeader3(hdl, unsafe.SliceData(data), uint(len(data)),
		&out[0], &out[1], &out[2], &out[3])
	runtime.KeepAlive(data)
	if rc != 0 {
		return 0, 0, -1, -1, turboErrorFor(hdl)
	}
	w, h, subsamp, colorspace = int(out[0]), int(out[1]), int(out[2]), int(out[3])
	if w <= 0 || h <= 0 {
		// tjDecompressHeader3 succeeds without setting the dimensions for a
		// tables-only stream (e.g. a bare SOI, where libjpeg fakes an EOI).
		return 0, 0, -1, -1, fmt.Errorf("hashing: turbojpeg: no image in JPEG data (dimensions %dx%d)", w, h)
	}
	return w, h, subsamp, colorspace, nil
}

// turboCallError is the error for a failed TurboJPEG call. Its message is
// "hashing: turbojpeg: " followed by tjGetErrorStr2(handle).
type turboCallError struct {
	// msg is the text returned by tjGetErrorStr2.
	msg string
	// code is tjGetErrorCode: turboErrWarning or turboErrFatal.
	code int
}

// Error implements error.
func (e *turboCallError) Error() string { return "hashing: turbojpeg: " + e.msg }

// Warning reports whether libjpeg only raised a warning (TJERR_WARNING:
// corrupt or truncated data). Because turboDecodeFlags includes
// TJFLAG_STOPONWARNING the decode was still aborted, so the caller gets no
// image; the pure-Go decoder may accept such a file (e.g. stray bytes before
// a marker) or reject it (truncation).
func (e *turboCallError) Warning() bool { return e.code == turboErrWarning }

// turboErrorFor builds the error for a failed call on hdl from
// tjGetErrorStr2 and tjGetErrorCode. The caller must still be on the OS
// thread that made the failing call (libjpeg-level messages are stored in a
// thread-local buffer, not in the handle).
func turboErrorFor(hdl uintptr) error {
	msg := strings.TrimSpace(turboJPEG.getErrorStr2(hdl))
	if msg == "" {
		msg = "unknown error"
	}
	code := turboErrFatal
	if hdl != 0 && turboJPEG.getErrorCode(hdl) == turboErrWarning {
		code = turboErrWarning
	}
	return &turboCallError{msg: msg, code: code}
}

// turboDecodeGray decodes JPEG data straight to 8-bit gray at the smallest
// TurboJPEG scaling factor whose output still has width >= minW and
// height >= minH (scale 1 if the image itself is smaller). The returned image
// has Bounds().Min == (0,0) and Stride == width; the factor used can be
// recovered from its size or obtained from turboDecodeGrayFactor.
//
// It must never be called with images larger than the caller's pixel cap: the
// caller already validated width*height. CMYK/YCCK images yield
// errTurboUnsupported. Any non-nil error means TurboJPEG produced no
// trustworthy image (corrupt, truncated, libjpeg warning, unusual
// subsampling, library unavailable); callers should then fall back to the
// pure-Go decoder, which is the final judge of whether the data is valid.
func turboDecodeGray(data []byte, minW, minH int) (*image.Gray, error) {
	img, _, err := turboDecodeGrayFactor(data, minW, minH)
	return img, err
}

// turboDecodeGrayFactor is turboDecodeGray that also returns the scaling
// factor used (num/denom; 1/1, 1/2, 1/4, 1/8 or fractional ones like 3/8).
func turboDecodeGrayFactor(data []byte, minW, minH int) (*image.Gray, turboScalingFactor, error) {
	var img *image.Gray
	f, err := turboDecodeInto(data, minW, minH, turboPFGray, func(sw, sh int) []byte {
		img = image.NewGray(image.Rect(0, 0, sw, sh)) // Stride == sw
		return img.Pix
	})
	if err != nil {
		return nil, turboScalingFactor{}, err
	}
	return img, f, nil
}

// turboDecodeRGBA is turboDecodeGray in colour: an opaque RGBA image at the smallest
// scale that is at least minW × minH.
func turboDecodeRGBA(data []byte, minW, minH int) (*image.RGBA, error) {
	var img *image.RGBA
	_, err := turboDecodeInto(data, minW, minH, turboPFRGBA, func(sw, sh int) []byte {
		img = image.NewRGBA(image.Rect(0, 0, sw, sh)) // Stride == 4*sw
		return img.Pix
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// turboDecodeInto decodes data at the smallest scale that is at least minW × minH, in pixel
// format pf (turboPFGray: one byte a pixel; turboPFRGBA: four), into the buffer alloc
// returns for the scaled size, rows packed.
func turboDecodeInto(data []byte, minW, minH, pf int, alloc func(sw, sh int) []byte) (turboScalingFactor, error) {
	bpp := 1
	if pf == turboPFRGBA {
		bpp = 4
	}
	if !turboAvailable() {
		return turboScalingFactor{}, errTurboUnavailable
	}
	if len(data) == 0 {
		return turboScalingFactor{}, errTurboEmpty
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// One handle per call: tjInitDecompress+tjDestroy cost under a
	// microsecond (BenchmarkTurboHandleInitDestroy), negligible next to a
	// decode, and no handle can leak or be shared between goroutines.
	hdl := turboJPEG.initDecompress()
	if hdl == 0 {
		return turboScalingFactor{}, turboErrorFor(0)
	}
	defer turboJPEG.destroy(hdl)

	w, h, _, cs, err := turboReadHeader(hdl, data)
	if err != nil {
		return turboScalingFactor{}, err
	}
	if cs == turboCSCMYK || cs == turboCSYCCK {
		return turboScalingFactor{}, errTurboUnsupported
	}
	f := turboPickScale(turboJPEG.factors, w, h, minW, minH)
	sw, sh := turboScaled(w, f), turboScaled(h, f)
	// JPEG dimensions are at most 65535, so sw*sh fits in an int on 64-bit;
	// guard 32-bit platforms against overflow anyway.
	if sw <= 0 || sh <= 0 || sw > (1<<31-1)/sh/bpp {
		return turboScalingFactor{}, fmt.Errorf("hashing: turbojpeg: scaled size %dx%d too large", sw, sh)
	}
	pix := alloc(sw, sh)
	// Passing exactly sw x sh makes tjDecompress2 pick the same factor: it
	// chooses the largest factor whose output fits, and TJSCALED is monotonic.
	// It never writes more than pitch*height bytes, even if it chose otherwise.
	rc := turboJPEG.decompress2(hdl, unsafe.SliceData(data), uint(len(data)),
		&pix[0], int32(sw), int32(sw*bpp), int32(sh), int32(pf), turboDecodeFlags)
	runtime.KeepAlive(data)
	runtime.KeepAlive(pix)
	if rc != 0 {
		// With TJFLAG_STOPONWARNING, TJERR_WARNING means libjpeg hit corrupt or
		// truncated data and stopped early: the rows below are unset, so a
		// warning is never treated as success here.
		return turboScalingFactor{}, turboErrorFor(hdl)
	}
	return f, nil
}
