package download

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// The trusted keys.
//
// keys/fedora-redhat.asc holds the keys that sign Fedora CoreOS and RHCOS
// images: Red Hat's release key 2 and the primary keys of the Fedora
// releases that Fedora CoreOS streams may be built from (43 to 45), the
// set of coreos-installer's src/signing-keys.asc, which signs the same
// images. Fedora 46's key is not in it yet: add it as the rotation note
// says, once its fingerprint is checked.
//
// Rotation: every Fedora release adds a primary key. When Fedora N is
// branched, add RPM-GPG-KEY-fedora-N-primary (from
// https://src.fedoraproject.org/rpms/fedora-repos, checked against the
// fingerprint on https://fedoraproject.org/security/) to
// keys/fedora-redhat.asc and to CoreOSKeyInfo, and drop Fedora N-4 once no
// stream is built from it any more (coreos-installer drops N-3 when it adds
// N). Keep the Red Hat key. TestBuiltinKeys fails until both lists agree.
// Images signed with a dropped key still verify with --trust-key and the
// old key.
//
// keys/flatcar.asc is the Flatcar image signing key (Flatcar Buildbot,
// https://www.flatcar.org/security/image-signing-key/). Its primary key is
// fixed; its signing subkeys are replaced every year or two and the key
// file gains the new subkey. Refresh the file when Flatcar announces a new
// subkey (flatcar-install in github.com/flatcar/init embeds the same
// block). Expired subkeys stay in the file: signatures are checked at the
// time they were made, so images signed with them still verify.

//go:embed keys/fedora-redhat.asc
var coreosKeysASC []byte

//go:embed keys/flatcar.asc
var flatcarKeysASC []byte

// KeyInfo names one trusted primary key.
type KeyInfo struct {
	// Fingerprint is the primary key's v4 fingerprint in upper-case hex.
	Fingerprint string
	// Name says whose key it is.
	Name string
}

// CoreOSKeyInfo lists the primary keys of keys/fedora-redhat.asc, in file
// order.
var CoreOSKeyInfo = []KeyInfo{
	{"567E347AD0044ADE55BA8A5F199E2F91FD431D51", "Red Hat, Inc. (release key 2): RHCOS"},
	{"C6E7F081CF80E13146676E88829B606631645531", "Fedora 43"},
	{"36F612DCF27F7D1A48A835E4DBFCF71C6D9F90A6", "Fedora 44"},
	{"4F50A6114CD5C6976A7F1179655A4B02F577861E", "Fedora 45"},
}

// FlatcarKeyInfo lists the primary key of keys/flatcar.asc.
var FlatcarKeyInfo = []KeyInfo{
	{"F88CFEDEFF29A5B4D9523864E25D9AED0593B34A", "Flatcar Buildbot (Official Builds)"},
}

// FlatcarSigningSubkey is the Flatcar signing subkey valid from 2025-03-07
// to 2027-03-08; the test checks that the key file carries it.
const FlatcarSigningSubkey = "52F145DFD00BBDCD928CBB5A32DA80F91EF52974"

// CoreOSKeys returns the built-in keys for Fedora CoreOS and RHCOS images.
func CoreOSKeys() (openpgp.EntityList, error) {
	return ReadArmoredKeys(bytes.NewReader(coreosKeysASC))
}

// FlatcarKeys returns the built-in key for Flatcar images.
func FlatcarKeys() (openpgp.EntityList, error) {
	return ReadArmoredKeys(bytes.NewReader(flatcarKeysASC))
}

// maxKeyFile bounds a key file read by ReadArmoredKeys.
const maxKeyFile = 4 << 20

const armorBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"

// ReadArmoredKeys reads one or more armored OpenPGP public key blocks, as
// concatenated by "gpg --export --armor" of several keys or by cat. Text
// between the blocks is ignored. At most 4 MiB are read.
func ReadArmoredKeys(r io.Reader) (openpgp.EntityList, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("key file larger than %d MiB: not a key file", maxKeyFile>>20)
	}
	s := string(b)
	var all openpgp.EntityList
	for n := 1; ; n++ {
		i := strings.Index(s, armorBegin)
		if i < 0 {
			break
		}
		s = s[i:]
		next := strings.Index(s[len(armorBegin):], armorBegin)
		block := s
		if next >= 0 {
			block = s[:len(armorBegin)+next]
			s = s[len(armorBegin)+next:]
		} else {
			s = ""
		}
		el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(block))
		if err != nil {
			return nil, fmt.Errorf("key block %d: %w", n, err)
		}
		all = append(all, el...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no armored OpenPGP public key block (%s) found", armorBegin)
	}
	return all, nil
}
