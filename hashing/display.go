package hashing

import (
	"bytes"
	"image"
)

// DecodeForDisplay decodes data, which Config.Decode accepted, in colour for display (a
// thumbnail): a JPEG through libturbojpeg at the smallest scale whose longer side is still at
// least minSide, when FastJPEG is set and the library is installed; anything else, or a JPEG
// libturbojpeg refuses, through Go's decoders at full size. A 12 MP photo then costs a
// decode at 3/8 scale for a 1,024-pixel side instead of a full one. The EXIF orientation is
// not applied.
func (c Config) DecodeForDisplay(data []byte, minSide int) (image.Image, error) {
	if c.FastJPEG && len(data) > 2 && data[0] == 0xFF && data[1] == 0xD8 && turboAvailable() {
		if w, h, _, err := turboHeader(data); err == nil {
			mw, mh := min(w, minSide), 1
			if h > w {
				mw, mh = 1, min(h, minSide)
			}
			if img, err := turboDecodeRGBA(data, mw, mh); err == nil {
				return img, nil
			}
		}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	return img, err
}
