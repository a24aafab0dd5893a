package panel

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"duet/crypto"
)

// hexOnly keeps the hex digits of s (fingerprints split over rows and
// frames read as one string).
func hexOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestKeyChanged(t *testing.T) {
	info := KeyChangedInfo{Peer: "bob", Known: testFP, Got: otherFP, Path: "/home/alice/.config/duet/known_peers"}
	for _, size := range [][2]int{{120, 40}, {80, 30}, {60, 40}, {40, 60}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			v := plain(KeyChanged(testStyles(), w, h, info, ""))
			j := joined(v)
			for _, want := range []string{
				"WARNING", "KEY HAS CHANGED", "bob", "recorded key:", "presented key:",
				"reinstalled", "--identity", "intercepting", "Nothing was sent",
				"type accept and press Enter", "known_peers", "q or ctrl+c",
			} {
				if !strings.Contains(j, want) {
					t.Errorf("missing %q in\n%s", want, v)
				}
			}
			hx := hexOnly(v)
			for _, fp := range []string{testFP, otherFP} {
				if !strings.Contains(hx, hexOnly(fp)) {
					t.Errorf("full fingerprint %s missing:\n%s", fp, v)
				}
			}
		})
	}
	// What was typed, and the hints.
	if v := joined(KeyChanged(testStyles(), 80, 40, info, "acc")); !strings.Contains(v, "> acc_") || strings.Contains(v, "press Enter to accept") {
		t.Errorf("typed acc: %s", v)
	}
	if v := joined(KeyChanged(testStyles(), 80, 40, info, "accept")); !strings.Contains(v, "press Enter to accept the new key") {
		t.Errorf("typed accept: %s", v)
	}
	if v := joined(KeyChanged(testStyles(), 80, 40, info, "yes")); !strings.Contains(v, "type exactly: accept") {
		t.Errorf("typed yes: %s", v)
	}
	// Long input: its end (where the cursor is) stays visible.
	long := strings.Repeat("x", 200) + "END"
	if v := joined(KeyChanged(testStyles(), 80, 40, info, long)); !strings.Contains(v, "END_") {
		t.Errorf("long input: %s", v)
	}
	// Short screens keep the way out.
	for _, h := range []int{6, 8, 12, 16} {
		if v := joined(KeyChanged(testStyles(), 80, h, info, "")); !strings.Contains(v, "ctrl+c") || !strings.Contains(v, "WARNING") {
			t.Errorf("height %d: lost the title or the way out: %s", h, v)
		}
	}
}

func TestKeyChangedPinned(t *testing.T) {
	info := KeyChangedInfo{Peer: "bob", Known: testFP, Got: otherFP}
	v := joined(KeyChanged(testStyles(), 80, 40, info, "accept"))
	for _, want := range []string{"pinned with --peer-fingerprint", "cannot be accepted here", "restart duet with --peer-fingerprint", "q or ctrl+c"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in %s", want, v)
		}
	}
	for _, not := range []string{"type accept", "press Enter", "> accept"} {
		if strings.Contains(v, not) {
			t.Errorf("pinned key offers %q: %s", not, v)
		}
	}
	if hx := hexOnly(v); !strings.Contains(hx, hexOnly(testFP)) || !strings.Contains(hx, hexOnly(otherFP)) {
		t.Errorf("fingerprints missing: %s", v)
	}
}

func TestVerify(t *testing.T) {
	groups := strings.Fields(testSafe)
	if got := SafetyGroups(testSafe); strings.Join(got, " ") != testSafe {
		t.Fatalf("SafetyGroups = %q", got)
	}
	if got := SafetyGroups(strings.ReplaceAll(testSafe, " ", "")); len(got) != 12 {
		t.Fatalf("ungrouped safety number: %d groups", len(got))
	}
	for _, size := range [][2]int{{120, 40}, {80, 24}, {40, 30}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			v := plain(Verify(testStyles(), w, h, testSafe, testFP, crypto.TrustKnown))
			// 4 rows of 3 groups of 5 digits.
			row := regexp.MustCompile(`\b(\d{5}) (\d{5}) (\d{5})\b`)
			var found []string
			for _, l := range strings.Split(v, "\n") {
				if m := row.FindStringSubmatch(l); m != nil {
					found = append(found, m[1:]...)
				}
			}
			if strings.Join(found, " ") != strings.Join(groups, " ") {
				t.Errorf("safety number rows %q, want %q:\n%s", found, groups, v)
			}
			j := joined(v)
			for _, want := range []string{"Safety number", "Peer fingerprint", "another channel", "y", "mark the peer verified", "esc", "close", "trust now: known key"} {
				if w < 60 && want == "mark the peer verified" {
					want = "verified"
				}
				if !strings.Contains(j, want) {
					t.Errorf("missing %q in\n%s", want, v)
				}
			}
			if !strings.Contains(hexOnly(v), hexOnly(testFP)) {
				t.Errorf("fingerprint missing:\n%s", v)
			}
		})
	}
	if v := joined(Verify(testStyles(), 80, 24, "", "", crypto.TrustUnknown)); !strings.Contains(v, "none yet") || !strings.Contains(v, "no key yet") {
		t.Errorf("no session: %s", v)
	}
	if v := joined(Verify(testStyles(), 80, 24, testSafe, testFP, crypto.TrustVerified)); !strings.Contains(v, "trust now: ✓ verified") {
		t.Errorf("verified: %s", v)
	}
}

func TestTooSmall(t *testing.T) {
	v := plain(TooSmall(testStyles(), 40, 10, 60, 20))
	for _, want := range []string{"terminal too small", "now 40×10", "needs at least 60×20"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q:\n%s", want, v)
		}
	}
	// Centred: the message is neither at the top nor at the left edge.
	r := strings.Split(v, "\n")
	if strings.TrimSpace(r[0]) != "" || strings.HasPrefix(r[4], "n") {
		t.Errorf("not centred:\n%s", v)
	}
}

func TestHeader(t *testing.T) {
	h := HeaderInfo{SelfName: "alice", PeerName: "bob", SelfFP: testFP, PeerFP: otherFP, Trust: crypto.TrustVerified, Encrypted: true}
	v := plain(Header(testStyles(), 120, h))
	for _, want := range []string{"alice", "bob", "1a2b 3c4d 5e6f 7a8b", "ffee ddcc bbaa 9988", "✓ bob verified", "encrypted"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in %q", want, v)
		}
	}
	if strings.Contains(v, "9c0d") {
		t.Errorf("fingerprint not short: %q", v)
	}
	for trust, word := range map[crypto.Trust]string{crypto.TrustUnknown: "no key from bob yet", crypto.TrustNew: "bob's key is new", crypto.TrustKnown: "bob's key known", crypto.TrustPinned: "bob's key pinned", crypto.TrustVerified: "✓ bob verified"} {
		h.Trust = trust
		for _, w := range []int{120, 40, 26} {
			if v := plain(Header(testStyles(), w, h)); !strings.Contains(v, word) {
				t.Errorf("width %d, trust %q: missing %q in %q", w, trust, word, v)
			}
		}
	}
	h.Encrypted = false
	if v := plain(Header(testStyles(), 120, h)); !strings.Contains(v, "not encrypted yet") {
		t.Errorf("not encrypted: %q", v)
	}
	// Narrow: the fingerprints go first, the peer and the trust word stay.
	h.Trust = crypto.TrustNew
	v = plain(Header(testStyles(), 40, h))
	if strings.Contains(v, "1a2b") || !strings.Contains(v, "bob") || !strings.Contains(v, "bob's key is new") {
		t.Errorf("narrow header: %q", v)
	}
	h.Ended = true
	if v := plain(Header(testStyles(), 120, h)); !strings.Contains(v, "no session") || strings.Contains(v, "not encrypted") {
		t.Errorf("session ended: %q", v)
	}
	// A changed key says whose it is.
	h.Changed = true
	if v := plain(Header(testStyles(), 80, h)); !strings.Contains(v, "bob's key changed") {
		t.Errorf("changed key: %q", v)
	}
	if got := ShortFP("1A2B3C4D5E6F7A8B9C0D"); got != "1A2B 3C4D 5E6F 7A8B" {
		t.Errorf("ShortFP ungrouped = %q", got)
	}
}
