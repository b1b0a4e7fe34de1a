// Package eval is Aura's accuracy benchmark: it registers original pictures, makes copies of
// them edited the way people who copy artwork edit them, and checks that each copy is matched
// to its original.
//
// # Transforms
//
// A Transform takes a decoded picture and returns the file a copier would upload: re-compressed,
// resized or stretched, cropped, flipped, turned, straightened, recoloured, blurred, noised,
// captioned, watermarked, stamped with a logo, padded, letterboxed, framed in a screenshot of a
// browser, or a chain of these. Transforms lists them in a stable order; each has a stable
// snake_case Name and a Group naming its family, the unit in which accuracy targets are
// reported. All randomness (crop offset, noise, logo corner and shape, caption and watermark
// text) comes from the *rand.Rand the caller passes, so a seed reproduces a copy byte for byte.

// # The benchmark
//
// Run registers Config.Originals photos of the development corpus (fixtures/build-corpus.sh)
// as reference fingerprints, makes every transform of each, and checks them and
// Config.Distractors unrelated pictures against every original. A copy checked against its
// own original is a genuine pair; every other pairing is an impostor pair. The report gives,
// per transform, the recall at the shipped thresholds and at the thresholds that hold the
// per-pair false-positive rate on the impostor pairs to 1e-4 and 1e-6, each with a 95%
// Wilson interval, beside the baseline measured in the same run: goimagehash's
// PerceptionHash of the full decoded image at Hamming distance ≤ 10 and at the same rates.
// Speed measures fingerprinting from file bytes against the naive pipeline in one process.
package eval
