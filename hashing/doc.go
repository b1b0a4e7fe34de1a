// Package hashing turns untrusted image bytes into a perceptual fingerprint and compares
// fingerprints. It is pure: no network, no store, no global state beyond the lazily loaded
// JPEG library and a bounded cache of resampling weights, which only ever holds what it
// would compute again.
//
// The path has one function a step:
//
//	Config.Decode   sniff the format, check bytes, sides and pixels against the limits
//	                (image.DecodeConfig, before any pixel is decoded), decode (libturbojpeg
//	                straight to gray at reduced scale when installed, Go's decoders otherwise)
//	shrinkToGray    luma with alpha flattened onto white, area-filtered down once to
//	                Config.WorkSize on the longer side
//	orient          the EXIF orientation
//	contentBox      trim uniform borders, pads, letterbox bars and screenshot chrome
//	Image.Fingerprint
//	                64×64 views (regions, rotations, orientations) of the normalised image,
//	                each hashed with goimagehash's pHash, dHash and aHash
//	Compare         the best pairing of a query's views with a reference's views, scored
//
// A Query fingerprint (an upload) holds the picture in its eight orientations; a Reference
// fingerprint (a registered work) holds the upright picture plus the crops and rotations
// copiers make. Both hold an opened view of the whole picture (light overlays such as tiled
// watermarks removed), compared only with each other. Fingerprints have a stable, versioned
// binary form (MarshalBinary) and text form ("afp1." + base64url), never goimagehash's gob
// dump.
//
// goimagehash is only ever handed images this package made (64×64, 9×8 and 8×8 gray), so
// its resizer, whose goroutines a recover cannot reach, never sees a hostile image.
package hashing
