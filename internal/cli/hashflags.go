package cli

import (
	"github.com/aura-art/aura/hashing"
)

// hashingFlags registers the decode limits and returns a function that yields the
// validated configuration after parsing.
func hashingFlags(fs *flagSet) func() (hashing.Config, error) {
	c := hashing.DefaultConfig()
	fs.Int64Var(&c.MaxBytes, "max-bytes", c.MaxBytes, "largest encoded image accepted, in bytes")
	fs.Int64Var(&c.MaxPixels, "max-pixels", c.MaxPixels, "largest width × height accepted, checked before decoding")
	fs.IntVar(&c.MaxSide, "max-side", c.MaxSide, "largest width or height accepted, in pixels")
	fs.Int64Var(&c.MaxHEIFPixels, "max-heif-pixels", c.MaxHEIFPixels, "largest width × height of AVIF and HEIC images, which are decoded at full size (about 40–70 bytes a pixel at the peak)")
	fs.IntVar(&c.WorkSize, "work-size", c.WorkSize, "longer side of the normalised image the hashes are computed from")
	fs.BoolVar(&c.FastJPEG, "fast-jpeg", c.FastJPEG, "decode JPEGs with libturbojpeg at reduced scale when it is installed")
	return func() (hashing.Config, error) { return c, c.Validate() }
}
