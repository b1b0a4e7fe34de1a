// Package rescan checks an archive of pictures against the registry in bulk, in-process, and
// opens a review case for each flagged one: a directory tree, a manifest of paths or URLs
// (JSONL, CSV or plain lines), or the same read from stdin.
//
// A Source streams Items; a Runner reads each (file or URL), checks it through a Checker
// (*index.Registry), opens a case of kind review.Rescan through a CaseOpener
// (*review.Opener) when the verdict is flagged, and hands every Result to the Journal, the
// Report and the Metrics. The pipeline is one walking goroutine, Config.Concurrency workers
// and one collecting goroutine joined by small channels: the first item is checked as soon
// as it is found, no list of items is ever held (what grows with the source is the
// journal's index of finished items, a few hundred bytes an item, and for a manifest the
// ids seen, to catch duplicates), and the workers spend their time decoding.
//
// A rescan is resumable. The Journal, an append-only JSONL file in a state directory, gets
// one line as each item finishes, written with a single write(2), so a process killed at any
// point loses at most the items it was working on; a torn last line is dropped when the
// journal is opened again. A second run of the same source skips every item the journal holds
// whose file is unchanged (size and modification time, or the content's SHA-256 with
// Config.Hash; an item from a URL is done once the journal holds it) and reports it with
// its earlier result, so the report of the last run is complete. A failed item counts as
// done too: Config.RetryErrors redoes those, Config.Force redoes everything.
package rescan
