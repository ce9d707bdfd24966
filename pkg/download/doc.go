// Package download fetches CoreOS-family images (Fedora CoreOS, RHCOS,
// SCOS, Flatcar) over HTTP and verifies them while they stream: the
// OpenPGP detached signature (fetched first) with the built-in or given
// keys, checked in process at the time the signature was made, and the
// sha256 (or Flatcar sha512) that the release metadata gives.
//
// Nothing unverified ever carries an image's name: the bytes go to a
// temporary file in the target directory, which is synced and renamed
// into place only after every check passed, and removed on any failure
// or cancellation. A present file whose signature matches the remote one
// and that verifies is kept without fetching it again.
//
// The package does no printing: messages go to Client.Log and progress to
// Client.Progress. Its only file access is the Dir it is given (OSDir for
// a directory of the file system).
package download
