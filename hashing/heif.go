package hashing

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/heic"
)

// AVIF and HEIC are both HEIF files: an ISO base media file whose first box, "ftyp", names a
// major brand and a list of compatible brands. The decoders (libavif and libheif compiled to
// WebAssembly and run by wazero, or the system's shared libraries when present) register
// only "avif", "avis" and "heic" as major brands with package image; phones and converters
// also write "heix", "hevc" and "mif1" files whose compatible brands say what they hold.
// heifFormat reads the brands and picks the decoder.

// heifDecoder is one HEIF decoder.
type heifDecoder struct {
	decode       func(io.Reader) (image.Image, error)
	decodeConfig func(io.Reader) (image.Config, error)
}

// heifDecoders are the HEIF decoders by format name.
var heifDecoders = map[string]heifDecoder{
	"avif": {avif.Decode, avif.DecodeConfig},
	"heic": {heic.Decode, heic.DecodeConfig},
}

// heifBrands maps the brands that identify a HEIF file's coding to a format name.
var heifBrands = map[string]string{
	"avif": "avif", "avis": "avif",
	"heic": "heic", "heix": "heic", "heim": "heic", "heis": "heic",
	"hevc": "heic", "hevx": "heic", "hevm": "heic", "hevs": "heic",
}

// heifSlot lets one HEIF decode run at a time in the process: each holds the whole picture,
// and more in WebAssembly memory (see Config.MaxHEIFPixels).
var heifSlot = make(chan struct{}, 1)

// maxFtypSize bounds the ftyp box heifFormat reads: a real one holds a handful of brands.
const maxFtypSize = 4096

// heifFormat returns "avif" or "heic" when data starts with an ftyp box whose major or
// compatible brands name that coding (the major brand first), and "" otherwise.
func heifFormat(data []byte) string {
	if len(data) < 16 || !bytes.Equal(data[4:8], []byte("ftyp")) {
		return ""
	}
	size := int(binary.BigEndian.Uint32(data[:4]))
	if size < 16 || size > maxFtypSize || size > len(data) {
		return ""
	}
	if f := heifBrands[string(data[8:12])]; f != "" {
		return f
	}
	// data[12:16] is the minor version; the compatible brands follow, four bytes each.
	for i := 16; i+4 <= size; i += 4 {
		if f := heifBrands[string(data[i:i+4])]; f != "" {
			return f
		}
	}
	return ""
}
