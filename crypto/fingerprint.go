package crypto

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Fingerprint is SHA-256 of a public key's SPKI DER encoding.
type Fingerprint [32]byte

// String returns lowercase hex in 16 groups of 4 digits separated by
// single spaces (79 characters), e.g. "3f2a 9c01 ...".
func (f Fingerprint) String() string { return groupHex(f[:], 16) }

// Short returns the first 4 groups of String (19 characters). It is for
// display only; never compare keys by their short form.
func (f Fingerprint) Short() string { return groupHex(f[:8], 4) }

func groupHex(b []byte, groups int) string {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	sb.Grow(groups*5 - 1)
	for i := 0; i < groups; i++ {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(h[4*i : 4*i+4])
	}
	return sb.String()
}

// ParseFingerprint accepts 64 hex digits in any case, optionally preceded
// by "SHA256:" (any case), with any number of spaces, tabs, colons or
// dashes before, between or after digits. Anything else (other characters,
// more or fewer than 64 digits) is ErrBadFingerprint.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	s = strings.TrimSpace(s)
	if len(s) >= 7 && strings.EqualFold(s[:7], "SHA256:") {
		s = s[7:]
	}
	n := 0 // hex digits seen
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		case c == ' ' || c == '\t' || c == ':' || c == '-':
			continue
		default:
			return Fingerprint{}, fmt.Errorf("%w: unexpected character at offset %d", ErrBadFingerprint, i)
		}
		if n == 64 {
			return Fingerprint{}, fmt.Errorf("%w: more than 64 hex digits", ErrBadFingerprint)
		}
		f[n/2] |= v << (4 * (1 - n%2))
		n++
	}
	if n != 64 {
		return Fingerprint{}, fmt.Errorf("%w: %d hex digits, want 64", ErrBadFingerprint, n)
	}
	return f, nil
}

// Less reports whether f sorts before g bytewise (used to order roles).
func (f Fingerprint) Less(g Fingerprint) bool { return bytes.Compare(f[:], g[:]) < 0 }

// safetyNumberLabel is the domain-separation prefix of SafetyNumber.
const safetyNumberLabel = "duet/1 safety number"

// SafetyNumber returns a 60-digit number both parties can compare out of
// band (an idea from Signal). It is order-independent:
// SafetyNumber(a, b) == SafetyNumber(b, a).
//
// Exact algorithm, for reimplementation:
//
//  1. For each fingerprint fp (32 raw bytes), compute
//     h = SHA-512("duet/1 safety number" || 0x00 || fp), where the label is
//     the 20 ASCII bytes shown, without quotes or terminator.
//  2. Split h[0:30] into 6 chunks of 5 bytes. Read each chunk as a
//     big-endian unsigned 40-bit integer, reduce it mod 100000 and print it
//     as 5 decimal digits with leading zeros. Concatenate: 30 digits.
//  3. Sort the two 30-digit strings in ascending byte order and concatenate
//     them (smaller first): 60 digits.
//  4. Insert a single space after every 5th digit except the last: 12 groups
//     of 5 digits, 71 characters.
//
// (The mod-100000 bias is below 1e5/2^40 and irrelevant for comparison.)
func SafetyNumber(a, b Fingerprint) string {
	parts := []string{safetyDigits(a), safetyDigits(b)}
	sort.Strings(parts)
	all := parts[0] + parts[1]
	var sb strings.Builder
	sb.Grow(71)
	for i := 0; i < 60; i += 5 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(all[i : i+5])
	}
	return sb.String()
}

func safetyDigits(fp Fingerprint) string {
	h := sha512.New()
	h.Write([]byte(safetyNumberLabel))
	h.Write([]byte{0})
	h.Write(fp[:])
	sum := h.Sum(nil)
	var sb strings.Builder
	sb.Grow(30)
	for i := 0; i < 6; i++ {
		var buf [8]byte
		copy(buf[3:], sum[5*i:5*i+5])
		fmt.Fprintf(&sb, "%05d", binary.BigEndian.Uint64(buf[:])%100000)
	}
	return sb.String()
}
