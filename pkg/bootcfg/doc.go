// Package bootcfg parses and rewrites the boot loader configurations of
// live ISOs (SYSLINUX/ISOLINUX and GRUB 2) so that every Linux boot entry
// loads one extra initramfs, last, and gets edited kernel arguments.
//
// The package does text processing only: Parse and Rewrite work on bytes,
// and Discover reads files through an fs.FS view of the ISO that the caller
// supplies.
//
// # Model
//
// A Config is one file. Its Entries are the Linux boot entries it defines:
// a SYSLINUX LABEL whose kernel is a Linux kernel (KERNEL without a module
// extension, or LINUX), or a GRUB linux/linuxefi/linux16 command, inside a
// menuentry or not. Its Includes are the other files it names (SYSLINUX
// INCLUDE, MENU INCLUDE and CONFIG; GRUB source, "." and configfile).
// Memory testers (memtest*, mt86*) and memdisk, which some configs boot
// with the Linux loader, COM32 modules, LOCALBOOT and labels without a
// kernel are not entries. Lines inside SYSLINUX TEXT HELP ... ENDTEXT are
// text, not directives.
//
// Entry.Args holds the kernel arguments the entry passes, without the
// SYSLINUX initrd= and initrd+= options and without a "---" separator and
// what follows it (Entry.Trailer). Arguments after "---" are, for Ubuntu's
// casper and Debian's installer, the ones copied to the installed system:
// Rewrite keeps the trailer verbatim, so new arguments land before it.
//
// # Rewriting
//
// Rewrite changes only the lines it must and keeps every other byte: line
// endings (LF or CRLF, per line), indentation, comments and the case of
// keywords. A line it adds copies the indentation and line ending of the
// kernel line, and the case of its keyword.
//
// SYSLINUX: the extra initramfs is appended to the INITRD directive of the
// label and to the last initrd=/initrd+= option of its APPEND line (to both
// when a label has both; whichever the loader honours, the new file is then
// last). A label with neither gets an APPEND line after its kernel line. A
// label without its own APPEND inherits the global APPEND (the last one
// outside a label, before the label ends); when such a label needs a
// changed APPEND, Rewrite adds an APPEND line to the label holding the
// edited global arguments and leaves the global line unchanged, so that
// labels and DEFAULT command lines that do not change keep working. With
// changed arguments, an APPEND line is rebuilt as its initrd options first,
// then the new arguments, then the trailer, separated by single spaces
// ("APPEND -" when that is empty). Keywords are matched case-insensitively,
// the initrd= option case-sensitively, as the loaders do ("INITRD=/x" in
// an APPEND line is an ordinary argument). New arguments must not hold
// initrd= options: the initramfs goes in Edit.Initrd.
//
// GRUB: a file is split into commands the way GRUB's lexer does it: at
// newlines and unquoted ";", "{" and "}", honouring single quotes, double
// quotes and backslash escapes, with "\" line continuations joined (Args
// and Trailer are reported without them), so several commands may share a
// line ("menuentry 'x' { linux ...; initrd ...; }") and one command may
// span lines. The extra initramfs is appended to every
// initrd/initrdefi/initrd16 command that follows the entry's linux command
// in the same block (before the next linux command); only that command's
// text changes, the rest of its line is kept byte for byte. A linux
// command with no such initrd command gets one, named after the linux
// command (linuxefi gets initrdefi): on a new line after the line the
// linux command ends on when the rest of that line holds only simple
// commands, else as "; initrd ..." right after the linux command. New
// arguments replace the text between the kernel path and "---" (appended
// arguments are inserted after the last one when that text spans several
// lines, so the continuations stay). When
// the last existing initrd path starts with a GRUB device such as "(loop)",
// the new path gets the same device. Words are kept verbatim: quotes and
// $variables are not expanded, and arguments are edited as space-separated
// words. New arguments must not hold control characters and, for GRUB,
// must lex as words of one command (balanced quotes, no unquoted ";", "{"
// or "}", no "#" starting a word); Rewrite refuses them otherwise.
//
// So that no entry is left unedited without notice, Parse fails, naming
// path:line, for a GRUB initrd command in command position that does not
// follow a linux command of its block, a linux command without a kernel or
// opening a block, and a file with an unterminated quote (or a dangling
// backslash) that holds entries or a "linux" word after it.
//
// # Idempotence
//
// An entry whose last initramfs already is Edit.Initrd (compared without a
// GRUB device prefix) does not get it again, so rewriting a rewritten file
// with the same Initrd changes nothing for the initramfs. Edit.Args is
// called on every run; whether a second run changes the arguments is up to
// it (EditArgs with appended arguments appends them again).
//
// # Limits
//
//   - Files over MaxSize bytes are refused.
//   - SYSLINUX: relative INCLUDE/CONFIG paths are resolved against the
//     directory of the including file (SYSLINUX itself uses its working
//     directory, which is the same for the usual layouts); the directory
//     argument of CONFIG is ignored. A global APPEND is looked up in the
//     label's own file only: a label in an included file that relies on a
//     global APPEND of the including file reports the arguments of its own
//     file, and a rewrite that adds an APPEND line to it drops the inherited
//     arguments. KERNEL arguments after the kernel path are kept but not
//     reported. DEFAULT command lines that name a kernel instead of a label
//     are not entries.
//   - GRUB: blocks are only the braces (menuentry, submenu, function):
//     if/else/fi and loops are not blocks, so an initrd command belongs to
//     the last linux command before it in its braces whatever branch that
//     is in. A command name built from a variable is not recognised. In source and configfile paths, $prefix and
//     ${prefix} stand for the directory of the current file, or for the
//     value of the last "set prefix=..." line of the file when that holds
//     no other variable (GRUB sets $prefix from where it was loaded, which
//     for the root grub.cfg is its directory); GRUB devices such as
//     "($root)" are dropped; paths with any other variable are recorded in
//     Config.Unresolved and not followed.
//   - Discover fails, rather than leave entries unedited, when it meets
//     more than MaxFiles files, an include chain deeper than MaxDepth, a
//     file over MaxSize bytes, or an error other than a missing file.
//   - systemd-boot entries and s390x .prm files are not handled.
//   - Editing the files of a Fedora/RHEL CoreOS image moves its karg embed
//     areas: use the embed areas (package embed) for those images instead.
package bootcfg
