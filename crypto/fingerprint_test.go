package crypto

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func fpSeq(start byte) Fingerprint {
	var f Fingerprint
	for i := range f {
		f[i] = start + byte(i)
	}
	return f
}

func TestFingerprintString(t *testing.T) {
	f := fpSeq(0xa0)
	s := f.String()
	if len(s) != 79 {
		t.Fatalf("len = %d, want 79", len(s))
	}
	if !regexp.MustCompile(`^[0-9a-f]{4}( [0-9a-f]{4}){15}$`).MatchString(s) {
		t.Fatalf("bad format %q", s)
	}
	if !strings.HasPrefix(s, "a0a1 a2a3 ") {
		t.Fatalf("wrong content %q", s)
	}
	if sh := f.Short(); sh != s[:19] || sh != "a0a1 a2a3 a4a5 a6a7" {
		t.Fatalf("Short = %q", sh)
	}
}

func TestParseFingerprint(t *testing.T) {
	f := fpSeq(0xa0)
	hexStr := strings.ReplaceAll(f.String(), " ", "")
	colons := regexp.MustCompile(`(..)`).ReplaceAllString(hexStr, "$1:")
	good := []string{
		f.String(),
		hexStr,
		strings.ToUpper(hexStr),
		"SHA256:" + hexStr,
		"sha256:" + f.String(),
		strings.TrimSuffix(colons, ":"),
		strings.ReplaceAll(f.String(), " ", "-"),
		"  " + f.String() + "\n",
		strings.ReplaceAll(f.String(), " ", " :- "),
	}
	for _, s := range good {
		got, err := ParseFingerprint(s)
		if err != nil || got != f {
			t.Errorf("ParseFingerprint(%q) = %v, %v", s, got, err)
		}
	}
	bad := []string{
		"",
		"SHA256:",
		hexStr[:63],
		hexStr + "0",
		hexStr[:63] + "g",
		hexStr[:62] + " x",
		"MD5:" + hexStr,
		hexStr[:32] + "." + hexStr[32:],
		hexStr[:32] + "\x00" + hexStr[32:],
		"SHA256:SHA256:" + hexStr,
	}
	for _, s := range bad {
		if _, err := ParseFingerprint(s); !errors.Is(err, ErrBadFingerprint) {
			t.Errorf("ParseFingerprint(%q) err = %v, want ErrBadFingerprint", s, err)
		}
	}
}

func TestFingerprintLess(t *testing.T) {
	a, b := fpSeq(1), fpSeq(2)
	if !a.Less(b) || b.Less(a) || a.Less(a) {
		t.Fatal("Less is not a strict bytewise order")
	}
}

func TestSafetyNumber(t *testing.T) {
	var zero, ones Fingerprint
	for i := range ones {
		ones[i] = 0xff
	}
	// Known answers, computed independently (Python hashlib) from the doc
	// comment's algorithm.
	kats := []struct {
		a, b Fingerprint
		want string
	}{
		{zero, ones, "12511 35290 66374 59511 74835 77901 56985 90023 67959 35180 03106 85166"},
		{fpSeq(0), fpSeq(0), "07182 25276 16781 98319 63747 16809 07182 25276 16781 98319 63747 16809"},
	}
	for _, k := range kats {
		if got := SafetyNumber(k.a, k.b); got != k.want {
			t.Errorf("SafetyNumber = %q, want %q", got, k.want)
		}
	}

	a, b := fpSeq(10), fpSeq(20)
	sn := SafetyNumber(a, b)
	if !regexp.MustCompile(`^[0-9]{5}( [0-9]{5}){11}$`).MatchString(sn) {
		t.Fatalf("bad format %q", sn)
	}
	if SafetyNumber(b, a) != sn {
		t.Error("not order independent")
	}
	a2, b2 := a, b
	a2[31] ^= 1
	b2[0] ^= 0x80
	if SafetyNumber(a2, b) == sn || SafetyNumber(a, b2) == sn || SafetyNumber(b, a2) == sn {
		t.Error("safety number did not change when a fingerprint changed")
	}
}
