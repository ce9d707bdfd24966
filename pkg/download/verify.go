package download

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// ErrBadSignature is wrapped by every error of a signature that does not
// verify.
var ErrBadSignature = errors.New("GPG verification failure")

// ErrNoSignature is returned for a source without a signature when
// Client.Insecure is not set.
var ErrNoSignature = errors.New("signature not found")

// ErrChecksum is wrapped by every digest mismatch.
var ErrChecksum = errors.New("checksum mismatch")

// maxSigSize bounds a detached signature.
const maxSigSize = 64 << 10

// signature is a parsed detached signature.
type signature struct {
	// raw is the signature file as fetched (armored or binary); it is
	// what gets saved as NAME.sig.
	raw []byte
	// bin is its binary form.
	bin []byte
	// created is the creation time of the signature packet that a
	// trusted key made.
	created time.Time
	// issuer is that packet's issuer key ID.
	issuer uint64
	// plainSHA256 is set when that packet hashes the data with SHA-256
	// as it is, with nothing before it (a version 4 signature of binary
	// data): the hash state after the data is then the data's SHA-256
	// too, which verifyStream takes instead of hashing the data twice.
	plainSHA256 bool
}

// parseSignature parses a detached signature (armored or binary) and
// picks the first signature packet made by a key of keys, as
// openpgp.CheckDetachedSignature does.
func parseSignature(raw []byte, keys openpgp.EntityList) (*signature, error) {
	bin := raw
	if t := bytes.TrimLeft(raw, " \t\r\n"); bytes.HasPrefix(t, []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(bytes.NewReader(t))
		if err != nil {
			return nil, fmt.Errorf("%w: decoding armored signature: %w", ErrBadSignature, err)
		}
		if blk.Type != openpgp.SignatureType {
			return nil, fmt.Errorf("%w: armored block is %q, not a signature", ErrBadSignature, blk.Type)
		}
		if bin, err = io.ReadAll(io.LimitReader(blk.Body, maxSigSize)); err != nil {
			return nil, fmt.Errorf("%w: decoding armored signature: %w", ErrBadSignature, err)
		}
	}
	pr := packet.NewReader(bytes.NewReader(bin))
	var issuers []string
	for n := 0; n < 16; n++ {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading signature packet: %w", ErrBadSignature, err)
		}
		s, ok := p.(*packet.Signature)
		if !ok {
			return nil, fmt.Errorf("%w: not a detached signature (packet %T)", ErrBadSignature, p)
		}
		if s.IssuerKeyId == nil {
			return nil, fmt.Errorf("%w: signature names no issuer key", ErrBadSignature)
		}
		if len(keys.KeysByIdUsage(*s.IssuerKeyId, packet.KeyFlagSign)) > 0 {
			return &signature{raw: raw, bin: bin, created: s.CreationTime, issuer: *s.IssuerKeyId,
				plainSHA256: s.Version == 4 && s.Hash == crypto.SHA256 && s.SigType == packet.SigTypeBinary}, nil
		}
		issuers = append(issuers, fmt.Sprintf("%016X", *s.IssuerKeyId))
	}
	if len(issuers) == 0 {
		return nil, fmt.Errorf("%w: no signature packet", ErrBadSignature)
	}
	return nil, fmt.Errorf("%w: signed by key %v, which is not a trusted key", ErrBadSignature, issuers)
}

// check reads signed to its end and verifies the signature over it. Key
// and signature expiry are judged at the time the signature was made, so
// that an image signed with a since expired Flatcar subkey still
// verifies; revocations count whenever they were made.
//
// With sum set (only for a plainSHA256 signature), it also stores there
// the SHA-256 of the data, taken from the signature's own hash: go-crypto
// copies the data into that hash with io.Copy, which hands it to the
// reader's WriteTo (see hashTap); a sum it could not take stays nil.
func (s *signature) check(keys openpgp.EntityList, signed io.Reader, sum *[]byte) error {
	created := s.created
	cfg := &packet.Config{Time: func() time.Time { return created }}
	er := &errReader{r: signed}
	var src io.Reader = er
	if sum != nil && s.plainSHA256 {
		src = &hashTap{r: er, sum: sum}
	}
	_, err := openpgp.CheckDetachedSignature(keys, src, bytes.NewReader(s.bin), cfg)
	if er.err != nil {
		// A read error of the data (transfer, disk, cancellation) is
		// not a bad signature.
		return er.err
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// hashTap is the data reader of a signature check whose WriteTo, given
// the signature's hash, copies the data into it and then stores the
// SHA-256 of a copy of the hash state: the data's SHA-256, since a plain
// SHA-256 signature's hash has taken nothing else yet (the signature's
// trailer is added after the copy). Only a state that a new SHA-256
// accepts is used, so whatever else go-crypto might hand over leaves sum
// nil, and the digest check then fails rather than passes.
type hashTap struct {
	r   io.Reader
	sum *[]byte
}

func (t *hashTap) Read(p []byte) (int, error) { return t.r.Read(p) }

func (t *hashTap) WriteTo(w io.Writer) (int64, error) {
	n, err := io.CopyBuffer(w, struct{ io.Reader }{t.r}, make([]byte, fanoutChunk))
	if err != nil {
		return n, err
	}
	if m, ok := w.(encoding.BinaryMarshaler); ok {
		if state, merr := m.MarshalBinary(); merr == nil {
			h := sha256.New()
			if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state) == nil {
				*t.sum = h.Sum(nil)
			}
		}
	}
	return n, nil
}

// errReader remembers the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// digests computes the digests an artifact gives while data passes.
type digests struct {
	want map[string]string
	h    map[string]hash.Hash
	w    io.Writer
	// shared is the SHA-256 that a signature check took from its own
	// hash (see signature.check), used instead of h["sha256"] when
	// sharedSHA256 is set.
	shared       []byte
	sharedSHA256 bool
}

func newDigests(a Artifact) *digests {
	d := &digests{want: map[string]string{}, h: map[string]hash.Hash{}}
	var ws []io.Writer
	if a.SHA256 != "" {
		d.want["sha256"], d.h["sha256"] = a.SHA256, sha256.New()
		ws = append(ws, d.h["sha256"])
	}
	if a.SHA512 != "" {
		d.want["sha512"], d.h["sha512"] = a.SHA512, sha512.New()
		ws = append(ws, d.h["sha512"])
	}
	d.w = io.MultiWriter(ws...)
	return d
}

func (d *digests) check(name string) error {
	for _, alg := range []string{"sha256", "sha512"} {
		h, ok := d.h[alg]
		if !ok {
			continue
		}
		sum := h.Sum(nil)
		if alg == "sha256" && d.sharedSHA256 {
			if sum = d.shared; sum == nil {
				return fmt.Errorf("%w for %s: internal error: the signature check did not give the sha256 of the data", ErrChecksum, name)
			}
		}
		if got := hex.EncodeToString(sum); got != d.want[alg] {
			return fmt.Errorf("%w for %s: %s expected=%s found=%s", ErrChecksum, name, alg, d.want[alg], got)
		}
	}
	return nil
}
