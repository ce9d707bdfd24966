package download

import (
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

func fingerprints(el openpgp.EntityList) []string {
	var out []string
	for _, e := range el {
		out = append(out, strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)))
	}
	return out
}

// TestBuiltinKeys checks that the embedded key files parse, carry exactly
// the fingerprints listed in keys.go, and that those include every key
// download.md lists for coreos-installer and Flatcar.
func TestBuiltinKeys(t *testing.T) {
	el, err := CoreOSKeys()
	if err != nil {
		t.Fatal(err)
	}
	got := fingerprints(el)
	var want []string
	for _, k := range CoreOSKeyInfo {
		want = append(want, k.Fingerprint)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("keys/fedora-redhat.asc has %v, CoreOSKeyInfo lists %v", got, want)
	}
	for _, e := range el {
		if len(e.Identities) == 0 {
			t.Errorf("key %X has no valid identity", e.PrimaryKey.Fingerprint)
		}
	}
	fl, err := FlatcarKeys()
	if err != nil {
		t.Fatal(err)
	}
	if got := fingerprints(fl); len(got) != 1 || got[0] != FlatcarKeyInfo[0].Fingerprint {
		t.Errorf("keys/flatcar.asc has %v, want %s", got, FlatcarKeyInfo[0].Fingerprint)
	}
	var subs []string
	for _, s := range fl[0].Subkeys {
		subs = append(subs, strings.ToUpper(hex.EncodeToString(s.PublicKey.Fingerprint)))
	}
	if !strings.Contains(strings.Join(subs, " "), FlatcarSigningSubkey) {
		t.Errorf("keys/flatcar.asc subkeys %v lack the current signing subkey %s", subs, FlatcarSigningSubkey)
	}

	// The reference list: every 40-hex fingerprint in download.md's
	// signature and Flatcar sections must be trusted.
	doc, err := os.ReadFile("../../../shared/docs/download.md")
	if err != nil {
		t.Skipf("reference doc not available: %v", err)
	}
	all := strings.Join(append(got, fingerprints(fl)...), " ") + " " + strings.Join(subs, " ")
	for _, fp := range regexp.MustCompile(`\b[0-9A-F]{40}\b`).FindAllString(string(doc), -1) {
		if !strings.Contains(all, fp) {
			t.Errorf("download.md lists %s, which no built-in key carries", fp)
		}
	}
}

func TestReadArmoredKeysErrors(t *testing.T) {
	for _, in := range []string{"", "hello", armorBegin + "\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"} {
		if _, err := ReadArmoredKeys(strings.NewReader(in)); err == nil {
			t.Errorf("ReadArmoredKeys(%q) succeeded", in)
		}
	}
}
