// Package sysarea reads, verifies and grows the partition tables that make
// an ISO 9660 image bootable from a disk: the isohybrid MBR in sector 0, a
// hybrid GPT (primary header at 512-byte LBA 1, backup at the last 512-byte
// sector of the image) and an Apple Partition Map (APM) whose block 0 starts
// with "ER".
//
// The package serves remastering by append-and-repoint: new data goes after
// the end of the old image, and the tables must then describe the bigger
// image. [Layout.Grow] plans that change as a list of [Patch] values for
// bytes that exist in the old image plus a Tail (the new backup GPT) that
// goes at the end of the new image; it never touches boot code, the
// isolinux LBA (bytes 432–439) or the disk signature (bytes 440–443).
// Partitions that follow the ISO 9660 data (the EFI system partition and
// gap partitions that xorriso appends after a volume at a partition
// offset, as in Ubuntu's and Arch's ISOs) would overlap the grown volume:
// Grow moves them behind the new data and says so in Growth.Moves, which
// the caller copies. [Layout.NewOverlaps] tells whether a change made
// partitions overlap that did not before (Verify accepts overlaps, which
// hybrid images have on purpose).
//
// Everything here works on an [io.ReaderAt] and plain values: no file
// access, no printing. Input is treated as untrusted: the GPT entry array
// is capped (entry size 128..4096, at most 4096 entries, at most 1 MiB),
// APM entries must lie in the first 32 KiB, and errors name the byte offset
// of the offending field.
//
// Conventions found in real images and kept deliberately: GPT partitions
// may overlap and may start before FirstUsable (isohybrid --uefi starts
// partition 1 at LBA 0); xorriso ends its ISO and gap partitions at the
// last whole 2048-byte block before the backup array, which Grow treats
// like "ends at LastUsable"; only an APM last entry that reaches the old
// image end is stretched (in -isohybrid-apm-hfsplus images without HFS+
// the last entry is the EFI image, which must stay as it is); an image
// with bytes appended after its backup GPT (so the backup is no longer at
// the last sector) is read with the backup where AlternateLBA points, and
// Grow measures from there and accepts a size that is not a multiple of
// 512 (the caller pads to 2048 before its new data).
package sysarea
